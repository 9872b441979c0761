import { pathToFileURL } from 'node:url';
import { COLUMNS, camelCase } from './columns.ts';

const ORIGIN: Record<string, string> = {
  client: 'given or defaulted; hashed',
  proof: 'proof; not hashed',
  ledger: 'set by the ledger; not hashed',
};

/** docs/columns.md, rendered from the catalogue (`npm run docs:columns`; a test fails when it is stale). */
export function renderColumnsDoc(): string {
  const lines = [
    '# Column catalogue of `ledger.universal_registry`',
    '',
    '<!-- Generated from functions/ledger/columns.ts by `npm run docs:columns`. Do not edit. -->',
    '',
    `${COLUMNS.length} columns. The GraphQL \`Span\` type has one field per column, named in camelCase.`,
    '"Hashed" columns make up the canonical form (docs/canonical-form.md) when not null.',
    '',
    '| column | GraphQL field | type | group | origin | meaning |',
    '|---|---|---|---|---|---|',
    ...COLUMNS.map((col) => `| \`${col.name}\` | \`${camelCase(col.name)}\` | ${col.type} | ${col.group} | ${ORIGIN[col.origin]} | ${col.meaning.replaceAll('|', '\\|')} |`),
    '',
  ];
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.stdout.write(renderColumnsDoc());

import { ValidationError } from '../commons/errors.ts';

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

/** The variable names a text uses, in order of first use. */
export function placeholdersOf(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((match) => match[1]!))];
}

/** Fills `{{name}}` placeholders; a name without a value is refused, naming it and where it is used. */
export function fillPlaceholders(text: string, variables: Readonly<Record<string, string>>, where: string): string {
  return text.replace(PLACEHOLDER, (_, name: string) => {
    const value = variables[name];
    if (value === undefined) {
      throw new ValidationError(`variables.${name}`, undefined, `is used by ${where} but has no value`, `Pass "${name}" in variables, or give the variant a default for it.`);
    }
    return value;
  });
}

/** Variables arrive as a JSON object; values must be strings, numbers or booleans (written as text). */
export function parseVariables(field: string, value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new ValidationError(field, value, 'is not JSON', 'Send the variables as a JSON object, e.g. {"product": "LogLineOS"}.');
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ValidationError(field, parsed, 'must be an object of names to values', 'Send e.g. {"product": "LogLineOS"}.');
  }
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(parsed)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw new ValidationError(`${field}.${name}`, v, 'must be a string, number or boolean', 'Send each variable as plain text.');
    }
    out[name] = String(v);
  }
  return out;
}

import { readFileSync } from 'node:fs';
import { buildSchema, type GraphQLSchema } from 'graphql';
import { AWS_SCALARS } from './scalars.ts';

export const SCHEMA_FILE = new URL('../schema/schema.graphql', import.meta.url);
const APPSYNC_FILE = new URL('../schema/appsync.graphql', import.meta.url);

/** The deployed schema with AppSync's scalars and directives, as the local server executes it. */
export function loadSchema(): GraphQLSchema {
  const schema = buildSchema(`${readFileSync(APPSYNC_FILE, 'utf8')}\n${readFileSync(SCHEMA_FILE, 'utf8')}`);
  for (const scalar of AWS_SCALARS) {
    const type = schema.getType(scalar.name);
    if (!type) continue;
    Object.assign(type, { serialize: scalar.serialize, parseValue: scalar.parseValue, parseLiteral: scalar.parseLiteral });
  }
  return schema;
}

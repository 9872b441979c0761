import { readFileSync } from 'node:fs';
import { buildSchema, type GraphQLSchema } from 'graphql';
import { AWS_SCALARS } from './scalars.ts';

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCHEMA_DIR = fileURLToPath(new URL('../schema/', import.meta.url));

/** The deployed schema with AppSync's scalars and directives, as the local server executes it. */
export function loadSchema(dir = SCHEMA_DIR): GraphQLSchema {
  const sdl = (file: string) => readFileSync(join(dir, file), 'utf8');
  const schema = buildSchema(`${sdl('appsync.graphql')}\n${sdl('schema.graphql')}`);
  for (const scalar of AWS_SCALARS) {
    const type = schema.getType(scalar.name);
    if (!type) continue;
    Object.assign(type, { serialize: scalar.serialize, parseValue: scalar.parseValue, parseLiteral: scalar.parseLiteral });
  }
  return schema;
}

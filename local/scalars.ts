import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';

/*
 * AppSync's scalars as AppSync checks them: a value that does not fit is a validation error before
 * any resolver runs. AWSJSON travels as JSON text and reaches resolvers as text.
 */

const DATE = '\\d{4}-\\d{2}-\\d{2}';
const TIME = '\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d{1,9})?)?';
const OFFSET = '(?:Z|[+-]\\d{2}:\\d{2}(?::\\d{2})?)';
const PATTERNS: Record<string, RegExp> = {
  AWSDateTime: new RegExp(`^${DATE}T${TIME}${OFFSET}$`),
  AWSDate: new RegExp(`^${DATE}${OFFSET}?$`),
  AWSTime: new RegExp(`^${TIME}${OFFSET}?$`),
  AWSEmail: /^[^\s@]+@[^\s@]+\.[^\s@]+$/,
  AWSPhone: /^\+?[\d\s().-]{3,}$/,
  AWSURL: /^[a-z][a-z0-9+.-]*:\/\/\S+$/i,
  AWSIPAddress: /^(?:\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?|[0-9a-f:]+(?:\/\d{1,3})?)$/i,
};

function invalid(name: string, value: unknown): GraphQLError {
  return new GraphQLError(`Invalid ${name} value ${JSON.stringify(value)}`, { extensions: { errorType: 'ValidationError' } });
}

function stringScalar(name: string, pattern: RegExp): GraphQLScalarType {
  const check = (value: unknown): string => {
    if (typeof value !== 'string' || !pattern.test(value) || (name.startsWith('AWSDate') && Number.isNaN(Date.parse(value.slice(0, 10))))) throw invalid(name, value);
    return value;
  };
  return new GraphQLScalarType({
    name,
    serialize: (value) => (value instanceof Date ? value.toISOString() : check(value)),
    parseValue: check,
    parseLiteral: (ast: ValueNode) => {
      if (ast.kind !== Kind.STRING) throw invalid(name, 'kind' in ast && 'value' in ast ? ast.value : ast.kind);
      return check(ast.value);
    },
  });
}

const checkJson = (value: unknown): string => {
  if (typeof value !== 'string') throw invalid('AWSJSON', value);
  try {
    JSON.parse(value);
  } catch {
    throw invalid('AWSJSON', value);
  }
  return value;
};

export const AWSJSON = new GraphQLScalarType({
  name: 'AWSJSON',
  serialize: (value) => (typeof value === 'string' ? value : JSON.stringify(value)),
  parseValue: checkJson,
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw invalid('AWSJSON', ast.kind);
    return checkJson(ast.value);
  },
});

export const AWSTimestamp = new GraphQLScalarType({
  name: 'AWSTimestamp',
  serialize: (value) => value,
  parseValue: (value) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid('AWSTimestamp', value);
    return value;
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.INT) throw invalid('AWSTimestamp', ast.kind);
    return Number(ast.value);
  },
});

export const AWS_SCALARS: readonly GraphQLScalarType[] = [
  AWSJSON,
  AWSTimestamp,
  ...Object.entries(PATTERNS).map(([name, pattern]) => stringScalar(name, pattern)),
];

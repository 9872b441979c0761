// The typed documents and their result and variable types, generated from client/operations/*.graphql.
export * from '../schema/generated/operations.ts';

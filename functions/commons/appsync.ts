/**
 * The direct-Lambda event AppSync sends to a Lambda data source (and that our resolvers forward
 * unchanged), reduced to what the handlers read.
 */

export interface CognitoIdentity {
  readonly sub: string;
  readonly issuer: string;
  readonly username?: string;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly sourceIp?: readonly string[];
  readonly defaultAuthStrategy?: string;
  readonly groups?: readonly string[] | null;
}

export interface IamIdentity {
  readonly accountId: string;
  readonly userArn: string;
  readonly username: string;
  readonly sourceIp?: readonly string[];
  readonly cognitoIdentityPoolId?: string | null;
  readonly cognitoIdentityId?: string | null;
}

export interface LambdaIdentity {
  readonly resolverContext: Readonly<Record<string, unknown>>;
}

export type AppSyncIdentity = CognitoIdentity | IamIdentity | LambdaIdentity | null | undefined;

export interface AppSyncEvent<Args = Record<string, unknown>> {
  readonly arguments: Args;
  readonly identity: AppSyncIdentity;
  readonly source: Readonly<Record<string, unknown>> | null;
  readonly request: { readonly headers: Readonly<Record<string, string>> };
  readonly info: {
    readonly fieldName: string;
    readonly parentTypeName: string;
    readonly variables: Readonly<Record<string, unknown>>;
    readonly selectionSetList: readonly string[];
    readonly selectionSetGraphQL?: string;
  };
  readonly prev?: { readonly result: unknown } | null;
  readonly stash?: Readonly<Record<string, unknown>>;
}

export const coordinateOf = (event: AppSyncEvent<unknown>): string => `${event.info.parentTypeName}.${event.info.fieldName}`;

import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { createAppSyncPublisher } from '../commons/appsync-publisher.ts';
import { noPublisher, type SpanPublisher } from '../commons/publisher.ts';
import { currentLedger, currentTokenSecret } from '../commons/runtime.ts';
import { createHandler } from './handler.ts';
import { LEDGER_OPERATIONS } from './ledger/operations.ts';

// Made once per container. Without APPSYNC_GRAPHQL_URL (tests, tools) nothing is published live;
// subscribers still find every span through timeline(after: cursor).
const publisher: SpanPublisher = process.env.APPSYNC_GRAPHQL_URL
  ? createAppSyncPublisher({ graphqlUrl: process.env.APPSYNC_GRAPHQL_URL, region: process.env.AWS_REGION ?? 'us-east-1', credentials: defaultProvider() })
  : noPublisher;

/** Lambda entry of the `ledger` data source. */
export const handler = createHandler(LEDGER_OPERATIONS, async () => ({ ledger: await currentLedger(), publisher, tokenSecret: await currentTokenSecret() }));

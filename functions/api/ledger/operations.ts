import type { Operations } from '../handler.ts';
import type { LedgerServices } from './services.ts';
import appendSpan from './Mutation.appendSpan.ts';
import registerDevice from './Mutation.registerDevice.ts';
import revokeDevice from './Mutation.revokeDevice.ts';
import apps from './Query.apps.ts';
import app from './Query.app.ts';
import tokens from './Query.tokens.ts';
import registerApp from './Mutation.registerApp.ts';
import updateApp from './Mutation.updateApp.ts';
import revokeApp from './Mutation.revokeApp.ts';
import issueToken from './Mutation.issueToken.ts';
import revokeToken from './Mutation.revokeToken.ts';
import rotateToken from './Mutation.rotateToken.ts';
import span from './Query.span.ts';
import spans from './Query.spans.ts';
import timeline from './Query.timeline.ts';
import timelineHead from './Query.timelineHead.ts';
import verifyLedger from './Query.verifyLedger.ts';
import verifySpan from './Query.verifySpan.ts';
import ledgerCheckpoint from './Query.ledgerCheckpoint.ts';
import inclusionProof from './Query.inclusionProof.ts';
import consistencyProof from './Query.consistencyProof.ts';
import checkpointLedger from './Mutation.checkpointLedger.ts';

/**
 * The fields the `ledger` data source serves, by schema coordinate (the same names as their files
 * here and in resolvers/). A test checks this list against the resolvers that name this data source.
 */
export const LEDGER_OPERATIONS: Operations<LedgerServices> = {
  'Query.span': span,
  'Query.spans': spans,
  'Query.timeline': timeline,
  'Query.timelineHead': timelineHead,
  'Query.verifySpan': verifySpan,
  'Query.verifyLedger': verifyLedger,
  'Query.ledgerCheckpoint': ledgerCheckpoint,
  'Query.inclusionProof': inclusionProof,
  'Query.consistencyProof': consistencyProof,
  'Mutation.checkpointLedger': checkpointLedger,
  'Mutation.appendSpan': appendSpan,
  'Mutation.registerDevice': registerDevice,
  'Mutation.revokeDevice': revokeDevice,
  'Query.apps': apps,
  'Query.app': app,
  'Query.tokens': tokens,
  'Mutation.registerApp': registerApp,
  'Mutation.updateApp': updateApp,
  'Mutation.revokeApp': revokeApp,
  'Mutation.issueToken': issueToken,
  'Mutation.revokeToken': revokeToken,
  'Mutation.rotateToken': rotateToken,
};

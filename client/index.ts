export { createClient } from './client.ts';
export type { Client, ClientAuth, ClientOptions } from './client.ts';
export { GraphQLRequestError } from './errors.ts';
export type { AppSyncError } from './errors.ts';
export * from './operations.ts';
export { realtimeUrl, subscribeTimeline } from './realtime.ts';
export type { SubscribeTimelineOptions, TimelineEvent, TimelineFilter, TimelineSubscription, WebSocketConstructor, WebSocketLike } from './realtime.ts';
export { canonicalSpan, verifySpanLocally } from './verify.ts';
export type { ClientVerification, SpanProof } from './verify.ts';

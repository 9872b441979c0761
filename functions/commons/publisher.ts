import type { Span } from '../ledger/index.ts';
import { cursorOf } from '../ledger/index.ts';

/** AppSync delivers at most 240 KB per subscription message; leave room for the envelope. */
export const MAX_EVENT_BYTES = 200 * 1024;

/** The live timeline's event for a span: filterable fields on top, the span as JSON inside. */
export interface SpanEvent {
  readonly cursor: string;
  readonly id: string;
  readonly seq: number;
  readonly entityType: string;
  readonly ownerId: string;
  readonly tenantId: string | null;
  readonly visibility: string;
  readonly traceId: string | null;
  readonly parentId: string | null;
  readonly truncated: boolean;
  /** JSON text of the span (AWSJSON), or null when it was too large to carry. */
  readonly span: string | null;
}

export function spanEvent(span: Span): SpanEvent {
  const cursor = cursorOf(span);
  const json = JSON.stringify({ ...span, cursor });
  const truncated = Buffer.byteLength(json) > MAX_EVENT_BYTES;
  return {
    cursor,
    id: span.id,
    seq: span.seq,
    entityType: span.entityType,
    ownerId: span.ownerId,
    tenantId: span.tenantId,
    visibility: span.visibility,
    traceId: span.traceId,
    parentId: span.parentId,
    truncated,
    span: truncated ? null : json,
  };
}

/** Sends committed spans to the live timeline: on AWS the publishSpan mutation, locally in process. */
export interface SpanPublisher {
  publish(event: SpanEvent): Promise<void>;
  /** False when nobody could receive an event now (a host that knows its subscribers); skips the work. */
  isListening?(): boolean;
}

export const noPublisher: SpanPublisher = { publish: async () => undefined };

/**
 * Publishes after the write committed. A failed publish never fails or undoes the write: it is
 * logged, and subscribers recover the span through timeline(after: cursor).
 */
export async function publishCommitted(publisher: SpanPublisher, span: Span): Promise<void> {
  if (publisher.isListening?.() === false) return;
  try {
    await publisher.publish(spanEvent(span));
  } catch (error) {
    console.error(JSON.stringify({ level: 'warn', message: 'publishing a committed span failed; subscribers will backfill it', id: span.id, seq: span.seq, error: error instanceof Error ? error.message : String(error) }));
  }
}

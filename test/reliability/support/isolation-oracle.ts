/*
 * The isolation suite's model of the ledger: who wrote what, with which visibility, and what each
 * caller may therefore see (SPEC §3.3: own rows, public rows, and the tenant's rows marked tenant or
 * public; memories also not forgotten; secret memories readable in clear by their owner only).
 * Everything written carries a unique marker word, so any answer can be scanned for data it must
 * not contain, whatever field it turns up in.
 */

export type Visibility = 'private' | 'tenant' | 'public';

/** Who a caller is as the database sees it: app tokens act as their app's owner; the API key is nobody. */
export interface Viewer {
  readonly userId: string | null;
  readonly tenantId: string | null;
}

export interface Owned {
  readonly ownerId: string;
  readonly tenantId: string | null;
  readonly visibility: Visibility;
}

export interface SpanVersion extends Owned {
  readonly id: string;
  readonly seq: number;
  readonly entityType: string;
  readonly marker: string;
}

export interface MemoryRecord extends Owned {
  readonly id: string;
  readonly marker: string;
  readonly sensitivity: 'internal' | 'secret';
  readonly layer: string;
  readonly sessionId: string;
  forgotten: boolean;
}

export interface BlockRecord extends Owned {
  readonly id: string;
  readonly marker: string;
  readonly tag: string;
}

export interface VariantRecord extends Owned {
  readonly id: string;
  readonly family: string;
  readonly blockIds: readonly string[];
}

/** SPEC §3.3's read rule, the one RLS enforces. */
export function canRead(viewer: Viewer, row: Owned): boolean {
  if (row.visibility === 'public') return true;
  if (viewer.userId !== null && row.ownerId === viewer.userId) return true;
  return row.visibility === 'tenant' && viewer.tenantId !== null && row.tenantId === viewer.tenantId;
}

const MARKER = /zq[0-9a-f]{12}/g;

export class IsolationOracle {
  readonly spans: SpanVersion[] = [];
  readonly memories = new Map<string, MemoryRecord>();
  readonly blocks = new Map<string, BlockRecord>();
  readonly variants = new Map<string, VariantRecord>();
  /** marker → may this viewer see it in clear. */
  private readonly markers = new Map<string, (viewer: Viewer) => boolean>();
  /** marker → what carries it, for the report. */
  private readonly carriers = new Map<string, string>();
  private counter = 0;

  constructor(private readonly prefix: string) {}

  /** A fresh marker word (letters and digits, so full-text search indexes it as one lexeme). */
  marker(): string {
    this.counter += 1;
    return `zq${this.prefix}${this.counter.toString(16).padStart(6, '0')}`;
  }

  addSpan(version: SpanVersion): void {
    this.spans.push(version);
    this.markers.set(version.marker, (viewer) => canRead(viewer, version));
    this.carriers.set(version.marker, `span ${version.id}:${version.seq} (${version.visibility} of ${version.ownerId})`);
  }

  addMemory(memory: MemoryRecord): void {
    this.memories.set(memory.id, memory);
    // Forgotten content is gone for everyone. Secret content is sealed under the tenant's key and opened
    // for whoever RLS lets read the row (docs/memory.md): its tenant's members when it is tenant-visible.
    this.markers.set(memory.marker, (viewer) => !memory.forgotten && canRead(viewer, memory));
    this.carriers.set(memory.marker, `memory ${memory.id} (${memory.visibility} ${memory.sensitivity} of ${memory.ownerId})`);
  }

  addBlock(block: BlockRecord): void {
    this.blocks.set(block.id, block);
    this.markers.set(block.marker, (viewer) => canRead(viewer, block));
    this.carriers.set(block.marker, `prompt block ${block.id} (${block.visibility} of ${block.ownerId})`);
  }

  addVariant(variant: VariantRecord): void {
    this.variants.set(variant.id, variant);
  }

  /** The latest version of `id` the viewer may read. */
  latestReadable(viewer: Viewer, id: string): SpanVersion | undefined {
    return this.spans.filter((span) => span.id === id && canRead(viewer, span)).sort((a, b) => b.seq - a.seq)[0];
  }

  /** Every version of the entity type and owner the viewer may read, as `id:seq`. */
  readableVersions(viewer: Viewer, entityType: string, ownerId: string): string[] {
    return this.spans.filter((span) => span.entityType === entityType && span.ownerId === ownerId && canRead(viewer, span)).map((span) => `${span.id}:${span.seq}`).sort();
  }

  /** Markers in `answer` (any JSON) that the viewer may not see. */
  leakedMarkers(viewer: Viewer, answer: unknown): string[] {
    const text = JSON.stringify(answer) ?? '';
    const found = text.match(MARKER) ?? [];
    return [...new Set(found)].filter((marker) => {
      const allowed = this.markers.get(marker);
      // A marker the oracle never handed out is one it cannot judge: only this test's own count.
      return allowed !== undefined && !allowed(viewer);
    });
  }

  /** What carries a marker, for a violation's report. */
  carrierOf(marker: string): string {
    return this.carriers.get(marker) ?? 'unknown';
  }
}

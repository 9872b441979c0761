import type { MemoryHit, MemoryView } from '../../memory/index.ts';

/*
 * AWSJSON leaves a Lambda as JSON text: a memory whose content is the string "likes tea" must reach
 * the client as "\"likes tea\"", which AppSync would not do for a bare string.
 */
const json = (content: unknown) => (content === null || content === undefined ? null : JSON.stringify(content));

export const toGraphqlMemory = (view: MemoryView | null) => (view === null ? null : { ...view, content: json(view.content) });

export const toGraphqlHit = (hit: MemoryHit) => ({ ...hit, content: json(hit.content) });

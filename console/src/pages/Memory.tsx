import { useState, type FormEvent } from 'react';
import { SearchMemoriesDocument, UpsertMemoryDocument, type SearchMemoriesQuery } from '../../../client/operations.ts';
import { useOpenSpan } from '../App.tsx';
import { errorText, type Connection } from '../session.ts';

/** Memory search over the scope cascade, with scores; each hit cites the span it came from. */
export function Memory({ connection }: { connection: Connection }) {
  const openSpan = useOpenSpan();
  const [hits, setHits] = useState<SearchMemoriesQuery['searchMemories'] | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);

  async function search(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setFailure(null);
    const form = new FormData(event.currentTarget);
    try {
      const data = await connection.client.query(SearchMemoriesDocument, { query: String(form.get('query')), topK: Number(form.get('topK')) || 10 });
      setHits(data.searchMemories);
    } catch (error) {
      setFailure(errorText(error));
    }
  }

  async function remember(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setFailure(null);
    const form = new FormData(event.currentTarget);
    try {
      // Consent travels with the write: the console asks for it explicitly, per memory.
      const { upsertMemory } = await connection.client.mutate(UpsertMemoryDocument, {
        input: { content: JSON.stringify(String(form.get('content'))), type: String(form.get('type')), layer: 'permanent', consent: 'on' },
      });
      setSaved(upsertMemory.id);
    } catch (error) {
      setFailure(errorText(error));
    }
  }

  return (
    <section className="memory">
      {failure && <p className="error">{failure}</p>}
      <form onSubmit={(e) => void search(e)} className="row">
        <input name="query" placeholder="what tea does alice like" required size={40} />
        <label>top <input name="topK" type="number" defaultValue={10} min={1} max={50} /></label>
        <button type="submit" className="primary">Search</button>
      </form>
      {hits && (
        <table className="spans" data-testid="memory-hits">
          <thead><tr><th>score</th><th>scope</th><th>layer</th><th>type</th><th>preview</th><th>cites</th></tr></thead>
          <tbody>
            {hits.map((hit) => (
              <tr key={`${hit.spanId}:${hit.seq}`}>
                <td>{hit.score.toFixed(3)}</td><td>{hit.scope}</td><td>{hit.layer}</td><td>{hit.type}</td><td>{hit.preview}</td>
                <td><button type="button" className="link" onClick={() => openSpan({ id: hit.spanId, seq: hit.seq })}>{hit.spanId.slice(0, 8)}</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {hits?.length === 0 && <p className="muted">Nothing found in your session, your own, your tenant's or public memories.</p>}
      <h3>Remember something</h3>
      <form onSubmit={(e) => void remember(e)} className="row">
        <input name="content" placeholder="Alice prefers green tea" required size={40} />
        <select name="type" defaultValue="fact">
          {['note', 'fact', 'profile', 'preference', 'relationship', 'plan', 'action', 'other'].map((t) => <option key={t}>{t}</option>)}
        </select>
        <button type="submit">Remember (consent: on)</button>
        {saved && <span className="muted">saved as {saved}</span>}
      </form>
    </section>
  );
}

import { useEffect, useRef, useState, type FormEvent } from 'react';
import { subscribeTimeline, type TimelineEvent, type TimelineFilter, type TimelineSubscription } from '../../../client/index.ts';
import { useOpenSpan } from '../App.tsx';
import { errorText, type Connection } from '../session.ts';

const MAX_ROWS = 500;
const VISIBILITIES = ['private', 'tenant', 'public'] as const;

type Status = 'connecting' | 'live' | 'paused' | 'reconnecting';

/** The live timeline: subscribeTimeline with its reconnect and backfill, filtered, pausable. */
export function Timeline({ connection }: { connection: Connection }) {
  const openSpan = useOpenSpan();
  const [filter, setFilter] = useState<TimelineFilter>({});
  const [visibility, setVisibility] = useState<ReadonlySet<string>>(new Set(VISIBILITIES));
  const [events, setEvents] = useState<TimelineEvent[]>([]);
  const [status, setStatus] = useState<Status>('connecting');
  const [failure, setFailure] = useState<string | null>(null);
  const [paused, setPaused] = useState(false);
  // Pausing closes the subscription; resuming starts after the last confirmed cursor, so the
  // backfill delivers what was written meanwhile and nothing is lost or shown twice.
  const resumeAfter = useRef<string | null>(null);
  const subscription = useRef<TimelineSubscription | null>(null);

  useEffect(() => {
    if (paused) {
      setStatus('paused');
      return;
    }
    setStatus('connecting');
    setFailure(null);
    const live = subscribeTimeline({
      url: connection.url,
      auth: connection.auth,
      filter,
      after: resumeAfter.current,
      verify: connection.logKey ? { trustedKeys: [connection.logKey.publicKeyHex] } : true,
      onEvent: (event) => {
        setStatus('live');
        setEvents((list) => [event, ...list].slice(0, MAX_ROWS));
      },
      onError: (error) => {
        setFailure(errorText(error));
        setStatus('reconnecting');
      },
    });
    subscription.current = live;
    live.ready.then(() => setStatus('live'), () => undefined);
    return () => {
      resumeAfter.current = live.confirmedCursor;
      live.close();
    };
  }, [connection, filter, paused]);

  function applyFilter(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const text = (name: string) => String(form.get(name) ?? '').trim();
    const entityTypes = text('entityTypes').split(',').map((t) => t.trim()).filter(Boolean);
    // A new filter is a new view: it starts at the timeline's end, not after the old view's cursor.
    resumeAfter.current = null;
    setEvents([]);
    setFilter({ ...(entityTypes.length ? { entityTypes } : {}), ...(text('traceId') ? { traceId: text('traceId') } : {}), ...(text('parentId') ? { parentId: text('parentId') } : {}) });
  }

  const shown = events.filter((event) => event.span && visibility.has(event.span.visibility));
  return (
    <section className="timeline">
      <form className="filters" onSubmit={applyFilter}>
        <label>Entity types <input name="entityTypes" placeholder="note, execution" /></label>
        <label>Trace <input name="traceId" /></label>
        <label>Parent <input name="parentId" /></label>
        <fieldset>
          <legend>Visibility</legend>
          {VISIBILITIES.map((name) => (
            <label key={name} className="inline">
              <input
                type="checkbox"
                checked={visibility.has(name)}
                onChange={(e) => {
                  const next = new Set(visibility);
                  if (e.target.checked) next.add(name);
                  else next.delete(name);
                  setVisibility(next);
                }}
              />
              {name}
            </label>
          ))}
        </fieldset>
        <button type="submit">Apply</button>
        <button type="button" onClick={() => setPaused(!paused)} data-testid="pause">
          {paused ? 'Resume' : 'Pause'}
        </button>
        <span className={`status ${status}`} data-testid="status">{status}</span>
      </form>
      {failure && status !== 'live' && <p className="error">{failure}</p>}
      <table className="spans" data-testid="timeline">
        <thead>
          <tr>
            <th>at</th><th>type</th><th>who</th><th>did</th><th>this</th><th>visibility</th><th>tenant</th><th>chain</th><th title="hash and signature checked in this browser">✓</th>
          </tr>
        </thead>
        <tbody>
          {shown.map(({ span, cursor, verification, source }) => span && (
            <tr key={`${span.id}:${span.seq}`} data-span-id={span.id} onClick={() => openSpan({ id: span.id, seq: span.seq })} className={source}>
              <td>{new Date(span.at).toLocaleTimeString()}</td>
              <td>{span.entityType}</td>
              <td>{span.who}</td>
              <td>{span.did}</td>
              <td className="this">{span.this}</td>
              <td>{span.visibility}</td>
              <td>{span.tenantId ?? '—'}</td>
              <td title={cursor}>{span.chainSeq ?? ''}</td>
              <td>{verification ? (verification.hashOk && verification.signatureOk !== false ? '✓' : '✗') : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length === 0 && <p className="muted">Waiting for spans… (append one through the API or the GraphQL page)</p>}
    </section>
  );
}

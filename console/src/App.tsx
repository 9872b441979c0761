import { createContext, lazy, Suspense, useContext, useEffect, useState } from 'react';
import { Kernels } from './pages/Kernels.tsx';
import { Memory } from './pages/Memory.tsx';
import { Prompts } from './pages/Prompts.tsx';
import { SignIn } from './pages/SignIn.tsx';
import { Timeline } from './pages/Timeline.tsx';
import { SpanDetail, type SpanRef } from './SpanDetail.tsx';
import { connect, describeSession, errorText, loadConfig, savedSession, saveSession, type ConsoleConfig, type Connection } from './session.ts';

// GraphiQL brings Monaco (megabytes); only the GraphQL page loads it.
const GraphqlEditor = lazy(() => import('./pages/GraphqlEditor.tsx'));

const PAGES = [
  ['timeline', 'Timeline'],
  ['graphql', 'GraphQL'],
  ['kernels', 'Kernels'],
  ['memory', 'Memory'],
  ['prompts', 'Prompts'],
] as const;
type Page = (typeof PAGES)[number][0];

const OpenSpan = createContext<(span: SpanRef) => void>(() => undefined);
/** Opens the span detail pane from any page (timeline rows, citations, executions). */
export const useOpenSpan = () => useContext(OpenSpan);

function currentPage(): Page {
  const name = location.hash.replace(/^#\/?/, '');
  return PAGES.some(([page]) => page === name) ? (name as Page) : 'timeline';
}

export function App() {
  const [config, setConfig] = useState<ConsoleConfig | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [connection, setConnection] = useState<Connection | null>(null);
  const [page, setPage] = useState<Page>(currentPage);
  const [span, setSpan] = useState<SpanRef | null>(null);

  useEffect(() => {
    loadConfig().then(
      (loaded) => {
        setConfig(loaded);
        const saved = savedSession();
        if (saved) setConnection(connect(loaded, saved.session, saved.logKey));
      },
      (error: unknown) => setFailure(errorText(error)),
    );
    const onHash = () => setPage(currentPage());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  if (failure) return <p className="error">The console could not load its settings: {failure}</p>;
  if (!config) return <p className="muted">Loading…</p>;
  if (!connection) {
    return (
      <SignIn
        config={config}
        onSignedIn={(session, logKey) => {
          saveSession({ session, logKey });
          setConnection(connect(config, session, logKey));
        }}
      />
    );
  }
  return (
    <OpenSpan.Provider value={setSpan}>
      <header className="top">
        <strong>LogLineOS</strong>
        <nav>
          {PAGES.map(([name, label]) => (
            <a key={name} href={`#/${name}`} className={name === page ? 'active' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <span className="who" data-testid="who">{describeSession(connection.session)}</span>
        <button
          type="button"
          onClick={() => {
            saveSession(null);
            setConnection(null);
            setSpan(null);
          }}
        >
          Sign out
        </button>
      </header>
      <div className={span ? 'body with-detail' : 'body'}>
        <main>
          {page === 'timeline' && <Timeline connection={connection} />}
          {page === 'graphql' && (
            <Suspense fallback={<p className="muted">Loading the editor…</p>}>
              <GraphqlEditor connection={connection} />
            </Suspense>
          )}
          {page === 'kernels' && <Kernels connection={connection} />}
          {page === 'memory' && <Memory connection={connection} />}
          {page === 'prompts' && <Prompts connection={connection} />}
        </main>
        {span && <SpanDetail key={`${span.id}:${span.seq ?? ''}`} connection={connection} span={span} onClose={() => setSpan(null)} />}
      </div>
    </OpenSpan.Provider>
  );
}

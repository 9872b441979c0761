import { useEffect, useRef, useState, type FormEvent } from 'react';
import { subscribe, type Subscription } from '../../../client/index.ts';
import { OnPromptRunDocument, RunPromptDocument, type RunPromptMutation } from '../../../client/operations.ts';
import { useOpenSpan } from '../App.tsx';
import { errorText, type Connection } from '../session.ts';

/** The final event's `result` (or `error`): the run's outcome as functions/prompts records it. */
interface PromptResult {
  readonly status: string;
  readonly answer?: { readonly text: string; readonly confidence: number; readonly follow_up_question?: string } | null;
  readonly citations?: readonly string[];
  readonly error?: { readonly code?: string; readonly message?: string } | null;
}

/** Runs a prompt; the answer streams in over onPromptRun(runId), then the parsed result with its citations. */
export function Prompts({ connection }: { connection: Connection }) {
  const openSpan = useOpenSpan();
  const [chunks, setChunks] = useState<string[]>([]);
  const [result, setResult] = useState<PromptResult | null>(null);
  const [started, setStarted] = useState<RunPromptMutation['runPrompt'] | null>(null);
  const [state, setState] = useState<'idle' | 'streaming' | 'done' | 'failed'>('idle');
  const [failure, setFailure] = useState<string | null>(null);
  const subscription = useRef<Subscription | null>(null);

  useEffect(() => () => subscription.current?.close(), []);

  async function run(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    subscription.current?.close();
    setChunks([]);
    setResult(null);
    setStarted(null);
    setFailure(null);
    setState('streaming');
    const runId = crypto.randomUUID();
    // Subscribe first, with a run id chosen here, so no chunk is published before anyone listens.
    const live = subscribe({
      url: connection.url,
      auth: connection.auth,
      document: OnPromptRunDocument,
      variables: { runId },
      onData: ({ onPromptRun: event }) => {
        if (!event) return;
        if (event.kind === 'chunk') setChunks((list) => [...list, event.text ?? '']);
        else {
          setResult(event.result ? (JSON.parse(event.result) as PromptResult) : { status: 'error', error: event.error ? (JSON.parse(event.error) as PromptResult['error']) : { message: 'the run failed' } });
          setState(event.kind === 'result' ? 'done' : 'failed');
          live.close();
        }
      },
      onError: (error) => setFailure(errorText(error)),
    });
    subscription.current = live;
    try {
      await live.ready;
      const { runPrompt } = await connection.client.mutate(RunPromptDocument, {
        input: { runId, family: String(form.get('family')), userInput: String(form.get('userInput')), useMemory: form.get('useMemory') === 'on' },
      });
      setStarted(runPrompt);
    } catch (error) {
      setFailure(errorText(error));
      setState('failed');
      live.close();
    }
  }

  return (
    <section className="prompts">
      <form onSubmit={(e) => void run(e)} className="stack">
        <label>Family <input name="family" defaultValue="assistant" required /></label>
        <label>Ask <textarea name="userInput" rows={2} defaultValue="What tea does Alice like?" required /></label>
        <label className="inline"><input type="checkbox" name="useMemory" defaultChecked /> use my memories as context</label>
        <button type="submit" className="primary" disabled={state === 'streaming'}>Run</button>
      </form>
      {failure && <p className="error">{failure}</p>}
      {started && <p className="muted">run {started.runId} · {started.variant} · {started.model} ({started.provider}) · trace {started.traceId}</p>}
      {state !== 'idle' && (
        <div className="answer" data-testid="answer" data-state={state} data-chunks={chunks.length}>
          {chunks.map((chunk, i) => <span key={i} className="chunk">{chunk}</span>)}
          {state === 'streaming' && <span className="cursor">▍</span>}
        </div>
      )}
      {result && (
        <div className={result.answer ? 'verdict ok' : 'verdict bad'} data-testid="prompt-result">
          <div>{result.status}{result.error ? `: ${result.error.code ?? ''} ${result.error.message ?? ''}` : ''}</div>
          {result.answer && (
            <>
              <p className="final">{result.answer.text}</p>
              <div>confidence {result.answer.confidence}{result.answer.follow_up_question ? ` · follow-up: ${result.answer.follow_up_question}` : ''}</div>
            </>
          )}
          {result.citations && result.citations.length > 0 && (
            <div>
              citations:{' '}
              {result.citations.map((id) => (
                <button type="button" key={id} className="link" onClick={() => openSpan({ id })}>{id.slice(0, 8)}</button>
              ))}
            </div>
          )}
        </div>
      )}
    </section>
  );
}

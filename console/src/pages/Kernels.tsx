import { useEffect, useState, type FormEvent } from 'react';
import { DefineKernelDocument, ExecutionsDocument, KernelDocument, KernelsDocument, ManifestDocument, RunKernelDocument, type KernelQuery, type KernelRunFieldsFragment, type KernelManifestFieldsFragment, type SpanFieldsFragment } from '../../../client/operations.ts';
import { useOpenSpan } from '../App.tsx';
import { errorText, type Connection } from '../session.ts';

/** The manifest, the kernels you can read (latest versions), one kernel's code, a run form and its executions. */
export function Kernels({ connection }: { connection: Connection }) {
  const openSpan = useOpenSpan();
  const { client } = connection;
  const [manifest, setManifest] = useState<KernelManifestFieldsFragment | null>(null);
  const [kernels, setKernels] = useState<SpanFieldsFragment[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [kernel, setKernel] = useState<KernelQuery['kernel']>(null);
  const [executions, setExecutions] = useState<SpanFieldsFragment[]>([]);
  const [run, setRun] = useState<KernelRunFieldsFragment | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    client.query(ManifestDocument, {}).then((data) => setManifest(data.manifest), (error: unknown) => setFailure(errorText(error)));
    client.query(KernelsDocument, { first: 200 }).then(
      (data) => {
        // The query returns every version; show each kernel once, at its latest.
        const latest = new Map<string, SpanFieldsFragment>();
        for (const { node } of data.kernels.edges) if ((latest.get(node.id)?.seq ?? -1) < node.seq) latest.set(node.id, node);
        setKernels([...latest.values()]);
      },
      (error: unknown) => setFailure(errorText(error)),
    );
  }, [client, version]);

  useEffect(() => {
    if (!selected) return;
    client.query(KernelDocument, { id: selected }).then((data) => setKernel(data.kernel), (error: unknown) => setFailure(errorText(error)));
    client.query(ExecutionsDocument, { kernelId: selected, first: 50 }).then((data) => setExecutions(data.executions.edges.map((e) => e.node).reverse()), (error: unknown) => setFailure(errorText(error)));
  }, [client, selected, version]);

  async function runKernel(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!selected) return;
    setFailure(null);
    const input = String(new FormData(event.currentTarget).get('input') ?? '').trim() || '{}';
    try {
      JSON.parse(input);
      setRun((await client.mutate(RunKernelDocument, { id: selected, input })).runKernel);
      setVersion((v) => v + 1);
    } catch (error) {
      setFailure(errorText(error));
    }
  }

  async function define(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setFailure(null);
    const form = new FormData(event.currentTarget);
    try {
      const { defineKernel } = await client.mutate(DefineKernelDocument, { input: { name: String(form.get('name')), code: String(form.get('code')), visibility: 'tenant' } });
      setSelected(defineKernel.id);
      setVersion((v) => v + 1);
    } catch (error) {
      setFailure(errorText(error));
    }
  }

  return (
    <section className="kernels">
      {failure && <p className="error">{failure}</p>}
      <div className="columns2">
        <div>
          <h2>Kernels</h2>
          <ul className="list">
            {kernels.map((k) => (
              <li key={k.id}>
                <button type="button" className={k.id === selected ? 'link active' : 'link'} onClick={() => {
                    setSelected(k.id);
                    setRun(null);
                  }}>{k.name ?? k.this}</button>
                <span className="muted"> v{k.seq} · {k.status ?? '—'} · {k.visibility}</span>
              </li>
            ))}
          </ul>
          <h3>Define a kernel</h3>
          <form onSubmit={(e) => void define(e)} className="stack">
            <label>Name <input name="name" placeholder="hello" pattern="[a-z0-9_]+" required /></label>
            <label>Code <textarea name="code" rows={4} defaultValue={'globalThis.default = async (ctx) => ({ hi: ctx.input.name })'} /></label>
            <button type="submit">Define</button>
          </form>
          <h3>Manifest</h3>
          {manifest ? (
            <dl className="proof">
              <dt>version</dt><dd>{manifest.id} v{manifest.seq}</dd>
              <dt>kernels</dt><dd><pre>{JSON.stringify(JSON.parse(manifest.kernels), null, 1)}</pre></dd>
              <dt>allowed boot ids</dt><dd>{manifest.allowedBootIds.join(', ')}</dd>
              <dt>daily runs per tenant</dt><dd>{manifest.perTenantDailyExecLimit}</dd>
              <dt>slow / timeout</dt><dd>{manifest.slowMs} ms / {manifest.timeoutMs} ms</dd>
              <dt>signatures required</dt><dd>{String(manifest.signaturesRequired)}</dd>
            </dl>
          ) : <p className="muted">No manifest you can read (API keys cannot).</p>}
        </div>
        <div>
          {kernel && (
            <>
              <h2>{kernel.name} <button type="button" className="link" onClick={() => openSpan({ id: kernel.id, seq: kernel.seq })}>span</button></h2>
              <p className="muted">{kernel.description}</p>
              <pre className="code">{kernel.code}</pre>
              <form onSubmit={(e) => void runKernel(e)} className="stack">
                <label>Input (JSON) <textarea name="input" rows={3} defaultValue={'{"name": "bob"}'} /></label>
                <button type="submit" className="primary">Run</button>
              </form>
              {run && (
                <div className={run.status === 'complete' ? 'verdict ok' : 'verdict bad'} data-testid="run-result">
                  {run.status} in {run.durationMs ?? '?'} ms · output {run.output ?? 'null'} {run.error ? `· error ${run.error}` : ''}
                </div>
              )}
              <h3>Executions</h3>
              <table className="spans">
                <thead><tr><th>at</th><th>status</th><th>trace</th><th></th></tr></thead>
                <tbody>
                  {executions.map((e) => (
                    <tr key={`${e.id}:${e.seq}`} onClick={() => openSpan({ id: e.id, seq: e.seq })}>
                      <td>{new Date(e.at).toLocaleString()}</td><td>{e.status}</td><td>{e.traceId}</td><td>{e.this}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
          {!kernel && <p className="muted">Pick a kernel to see its code, run it and list its executions.</p>}
        </div>
      </div>
    </section>
  );
}

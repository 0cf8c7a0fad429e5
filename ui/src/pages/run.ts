import { useEffect, useRef, useState } from 'preact/hooks'
import { html, ms, short, preview, ErrorNote } from '../html.js'
import { api, download, followRun } from '../api.js'
import { Graph, type GraphEdge, type GraphNode } from '../dag.js'

const ENDED = ['succeeded', 'failed', 'cancelled']

function baseKey (key: string): string {
  return key.replace(/\[.*$/, '')
}

/** DAG nodes from the TaskDag and the step records; a map step's items collapse into one node with counts. */
function graphOf (dag: any, steps: any[]): { nodes: GraphNode[], edges: GraphEdge[] } {
  const ids = Object.keys(dag?.steps ?? {})
  const nodes = ids.map(id => {
    const s = dag.steps[id]
    const rec = steps.find(r => r.key === id)
    const items = steps.filter(r => r.key.startsWith(`${id}[`))
    const done = items.filter(r => r.state === 'succeeded').length
    const state = rec?.state ?? (items.length > 0 ? 'running' : 'pending')
    const fan = items.length > 0 ? ` · ×${items.length} (${done} done)` : ''
    return { id, label: s.capability?.name ?? `${String(s.kind)}`, sub: `${state}${fan}`, state, title: `${id} (${String(s.kind)})` }
  })
  const edges = ids.flatMap(id => (dag.steps[id].after ?? []).map((from: string) => ({ from, to: id })))
  return { nodes, edges }
}

function Gantt ({ run, steps }: { run: any, steps: any[] }): any {
  const timed = steps.filter(s => s.started != null)
  if (timed.length === 0) return html`<p>No step has started yet.</p>`
  const t0 = Math.min(run.created, ...timed.map(s => s.started))
  const t1 = Math.max(...timed.map(s => s.ended ?? Date.now()), t0 + 1)
  const span = t1 - t0
  return html`<ol class="gantt" aria-label="Step timing">
    ${timed.sort((a, b) => a.started - b.started).map(s => html`<li>
      <span class="gkey">${s.key}</span>
      <span class="gtrack"><span class=${`gbar state-${s.state}`} style=${{ marginLeft: `${((s.started - t0) / span) * 100}%`, width: `${Math.max(0.5, (((s.ended ?? Date.now()) - s.started) / span) * 100)}%` }} /></span>
      <span class="gtime">${ms((s.ended ?? Date.now()) - s.started)}</span>
    </li>`)}
  </ol>`
}

function Explanation ({ e }: { e: any }): any {
  const weights = (e.select ?? []).map((w: any) => w.attr)
  return html`<details class="explanation card" data-step=${e.step}>
    <summary><strong>${e.step}</strong> · ${e.capability} · winner <strong class="winner" title=${e.winner}>${e.winner != null ? short(e.winner, 12) : '—'}</strong> · ${(e.bids ?? []).length} bid(s), ${e.rounds} round(s), ${e.reawards} re-award(s), outcome ${e.outcome ?? 'pending'}</summary>
    <table><caption>Bids (score per select weight)</caption>
      <thead><tr><th scope="col">Provider</th><th scope="col">Price</th><th scope="col">ETA</th>${weights.map((w: string) => html`<th scope="col">${w}</th>`)}<th scope="col">Score</th><th scope="col">Rank</th><th scope="col">Status</th></tr></thead>
      <tbody>${(e.bids ?? []).map((b: any) => html`<tr class=${b.status}><td><code title=${b.provider}>${short(b.provider)}</code></td><td>${b.price}</td><td>${b.eta_ms} ms</td>
        ${weights.map((w: string) => { const t = b.breakdown?.[w]; return html`<td>${t != null ? `${t.value ?? '–'} → ${Number(t.contribution).toFixed(3)}` : '–'}</td>` })}
        <td>${b.score != null ? Number(b.score).toFixed(3) : '–'}</td><td>${b.rank ?? '–'}</td><td>${b.status}${b.reason != null ? `: ${String(b.reason)}` : ''}</td></tr>`)}</tbody>
    </table>
    ${(e.answers ?? []).filter((a: any) => a.kind !== 'bid').length > 0 ? html`<h4>Other answers</h4><ul>${e.answers.filter((a: any) => a.kind !== 'bid').map((a: any) => html`<li><code>${short(a.provider)}</code> ${a.kind}${a.reason != null ? ` (${String(a.reason)})` : ''}${a.message != null ? `: ${String(a.message)}` : ''}</li>`)}</ul>` : null}
    <h4>Attempts</h4><ol>${(e.attempts ?? []).map((a: any) => html`<li><code>${short(a.provider)}</code> ${a.outcome}${a.error != null ? ` — ${String(a.error.name)}: ${String(a.error.message)}` : ''}</li>`)}</ol>
  </details>`
}

function StepDetail ({ runId, step }: { runId: string, step: any }): any {
  const [out, setOut] = useState<any>()
  const [error, setError] = useState<unknown>()
  useEffect(() => {
    setOut(undefined)
    if (step.output == null) return
    api('GET', `/runs/${encodeURIComponent(runId)}/outputs/${encodeURIComponent(step.key)}`).then(setOut, setError)
  }, [step.key, step.output])
  const p = out != null ? preview(out.output) : undefined
  return html`<section class="card" aria-label=${`Step ${String(step.key)}`}>
    <h3>${step.key}</h3>
    <dl class="facts">
      <dt>State</dt><dd>${step.state}</dd>
      <dt>Provider</dt><dd><code title=${step.executor}>${step.executor ?? '—'}</code> (${step.runner ?? 'local'})</dd>
      <dt>Attempts</dt><dd>${step.attempts}</dd>
      ${step.usage != null ? html`<dt>Usage</dt><dd>${JSON.stringify(step.usage)}</dd>` : null}
      ${step.error != null ? html`<dt>Error</dt><dd class="error">${step.error.name}: ${step.error.message}</dd>` : null}
      ${step.receipt != null ? html`<dt>Receipt</dt><dd><code>${step.receipt}</code></dd>` : null}
    </dl>
    <${ErrorNote} error=${error} />
    ${p != null ? html`<h4>Output <span class="muted">${out.cid}</span></h4><pre tabindex="0">${p.text}</pre>
      ${p.truncated ? html`<p class="muted">Truncated.</p>` : null}
      <button type="button" onClick=${() => download(`${String(step.key)}.json`, JSON.stringify(out.output, null, 2))}>Download output</button>` : null}
  </section>`
}

export function RunPage ({ id }: { id: string }): any {
  const [view, setView] = useState<any>()
  const [dag, setDag] = useState<any>()
  const [input, setInput] = useState<any>()
  const [explanations, setExplanations] = useState<any[]>([])
  const [error, setError] = useState<unknown>()
  const [live, setLive] = useState(false)
  const [selected, setSelected] = useState<string>()
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)

  const refresh = async (): Promise<void> => {
    try {
      const v = await api('GET', `/runs/${encodeURIComponent(id)}`)
      setView(v)
      setError(undefined)
      const ex = await api<{ steps: any[] }>('GET', `/runs/${encodeURIComponent(id)}/explanations`).catch(() => ({ steps: [] }))
      setExplanations(ex.steps)
    } catch (err) { setError(err) }
  }
  // events arrive in bursts: one refresh per burst
  const soon = (): void => {
    if (pending.current != null) return
    pending.current = setTimeout(() => { pending.current = undefined; void refresh() }, 150)
  }
  useEffect(() => {
    void refresh()
    let close = (): void => {}
    let retry: ReturnType<typeof setTimeout> | undefined
    const connect = (): void => {
      close = followRun(id, (m) => {
        if (m.type === 'subscribed') setLive(true)
        if (m.type === 'event') soon()
      }, () => {
        // the socket dropped (node restarted, slow-consumer drop): catch up, then follow again
        setLive(false)
        retry = setTimeout(() => { void refresh(); connect() }, 2000)
      })
    }
    connect()
    return () => { close(); clearTimeout(retry); clearTimeout(pending.current) }
  }, [id])
  useEffect(() => {
    if (view?.run?.dag == null || dag != null) return
    api('GET', `/blocks/${view.run.dag}`).then((b: any) => setDag(b.doc), setError)
    api('GET', `/blocks/${view.run.input}`).then((b: any) => setInput(b.doc), () => {})
  }, [view?.run?.dag])

  if (view == null) return html`<h1>Run <code>${id}</code></h1><${ErrorNote} error=${error} /><p>Loading…</p>`
  const { run, steps } = view
  const g = dag != null ? graphOf(dag, steps) : undefined
  const decide = async (step: string, choice: string): Promise<void> => {
    try { await api('POST', `/runs/${encodeURIComponent(id)}/decide`, { step, choice }); soon() } catch (err) { setError(err) }
  }
  const cancel = async (): Promise<void> => {
    try { await api('POST', `/runs/${encodeURIComponent(id)}/cancel`); soon() } catch (err) { setError(err) }
  }
  const chosen = steps.find((s: any) => s.key === selected) ?? steps.find((s: any) => baseKey(s.key) === selected)
  const inPreview = input != null ? preview(input) : undefined
  return html`<h1>Run <code>${id}</code></h1>
    <p class="runhead row">${run.name} · <span class=${`badge state-${run.state}`} data-testid="run-state" data-state=${run.state}>${run.state}</span>
      <span class="muted" aria-live="polite">${live ? 'live' : 'reconnecting…'}</span>
      ${!ENDED.includes(run.state) ? html`<button type="button" class="danger" onClick=${cancel}>Cancel run</button>` : null}
      <a href=${`#/receipts/${encodeURIComponent(id)}`}>Receipts</a></p>
    <${ErrorNote} error=${error} />
    ${run.error != null ? html`<p class="error">${run.error.name}: ${run.error.message}</p>` : null}
    ${(view.waiting ?? []).map((w: any) => html`<section class="decision card" role="group" aria-label=${`Decision for ${String(w.key)}`}>
      <h2>Decision needed: ${w.key}</h2><p>${w.question}</p>
      <div class="row">${w.choices.map((c: string) => html`<button type="button" data-choice=${c} onClick=${() => decide(w.key, c)}>${c}</button>`)}</div>
    </section>`)}
    <div class="split">
      <section aria-labelledby="dag-h"><h2 id="dag-h">Steps</h2>
        ${g != null ? html`<${Graph} nodes=${g.nodes} edges=${g.edges} label="Run DAG" onSelect=${setSelected} />` : html`<p>Loading the DAG…</p>`}
        <div class="row"><label for="step-pick">Step details</label>
        <select id="step-pick" value=${selected ?? ''} onChange=${(e: any) => setSelected(e.target.value)}>
          <option value="">choose a step</option>
          ${steps.map((s: any) => html`<option value=${s.key}>${s.key} (${s.state})</option>`)}
        </select></div>
        ${chosen != null ? html`<${StepDetail} runId=${id} step=${chosen} />` : null}
      </section>
      <section aria-labelledby="gantt-h"><h2 id="gantt-h">Timing</h2><${Gantt} run=${run} steps=${steps} />
        <h2>Input</h2>${inPreview != null ? html`<pre tabindex="0">${inPreview.text}</pre>${inPreview.truncated ? html`<button type="button" onClick=${() => download(`${id}-input.json`, JSON.stringify(input, null, 2))}>Download input</button>` : null}` : null}
        ${view.output !== undefined ? html`<h2>Output</h2><pre tabindex="0">${preview(view.output).text}</pre><button type="button" onClick=${() => download(`${id}-output.json`, JSON.stringify(view.output, null, 2))}>Download output</button>` : null}
      </section>
    </div>
    <section aria-labelledby="ex-h"><h2 id="ex-h">Award explanations</h2>
      ${explanations.length === 0 ? html`<p>No negotiated steps (yet).</p>` : explanations.map(e => html`<${Explanation} e=${e} />`)}
    </section>`
}

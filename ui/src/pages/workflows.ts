import { useEffect, useState } from 'preact/hooks'
import { html, ErrorNote, preview } from '../html.js'
import { api } from '../api.js'
import { usePoll } from '../poll.js'
import { Graph } from '../dag.js'

/** The DAG's steps as graph nodes and edges. */
export function dagGraph (dag: any): { nodes: Array<{ id: string, label: string, sub: string }>, edges: Array<{ from: string, to: string }> } {
  const ids = Object.keys(dag?.steps ?? {})
  return {
    nodes: ids.map(id => ({ id, label: dag.steps[id].capability?.name ?? dag.steps[id].name ?? id, sub: `${String(dag.steps[id].kind)} · ${id}` })),
    edges: ids.flatMap(id => (dag.steps[id].after ?? []).map((from: string) => ({ from, to: id })))
  }
}

/** One text field per declared input (a DSL plan's `inputs:`), prefilled with its default. */
function InputForm ({ id, inputs, values, onChange }: { id: string, inputs: Record<string, unknown>, values: Record<string, string>, onChange: (v: Record<string, string>) => void }): any {
  return html`<fieldset><legend>Inputs</legend>${Object.keys(inputs).map(k => html`<div class="row">
    <label for=${`in-${id}-${k}`}>${k}</label>
    <input id=${`in-${id}-${k}`} value=${values[k] ?? ''} onInput=${(e: any) => onChange({ ...values, [k]: e.target.value })} />
  </div>`)}</fieldset>`
}

function Workflow ({ w }: { w: any }): any {
  const id = String(w.workflow_id)
  const [input, setInput] = useState('{}')
  const [dag, setDag] = useState<any>()
  const [fields, setFields] = useState<Record<string, string>>({})
  const [estimate, setEstimate] = useState<any>()
  const [versions, setVersions] = useState<any>()
  const [error, setError] = useState<unknown>()
  const guard = async (f: () => Promise<void>): Promise<void> => { try { setError(undefined); await f() } catch (err) { setError(err) } }
  useEffect(() => {
    api<{ dag: any }>('POST', `/dsl-graph/${encodeURIComponent(id)}/graph`, {}).then(r => {
      setDag(r.dag)
      setFields(Object.fromEntries(Object.entries(r.dag.inputs ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])))
    }, setError)
  }, [id])
  const declared = dag?.inputs != null && Object.keys(dag.inputs).length > 0
  // declared inputs come from the form; anything else from the JSON document
  const document = (): Record<string, unknown> => declared ? { ...JSON.parse(input), ...fields } : JSON.parse(input)
  const run = async (e: Event): Promise<void> => {
    e.preventDefault()
    await guard(async () => {
      const r = await api<{ runId: string }>('POST', `/dsl-graph/${encodeURIComponent(id)}/deploy`, { input: document() })
      location.hash = `#/runs/${encodeURIComponent(r.runId)}`
    })
  }
  return html`<article class="card" data-workflow=${id}>
    <h2>${w.name ?? id} <span class="muted">${id} ${w.version}</span></h2>
    <p>${w.description ?? ''} ${(w.tags ?? []).map((t: string) => html`<span class="tag">${t}</span>`)} <span class="muted">publisher ${w.publisher}</span></p>
    ${dag != null ? html`<details><summary>Graph (${Object.keys(dag.steps ?? {}).length} steps)</summary><${Graph} ...${dagGraph(dag)} label=${`Graph of ${id}`} /></details>` : null}
    <form onSubmit=${run}>
      ${declared ? html`<${InputForm} id=${id} inputs=${dag.inputs} values=${fields} onChange=${setFields} />` : null}
      <label for=${`in-${id}`}>${declared ? 'More input (JSON)' : 'Input (JSON)'}</label>
      <textarea id=${`in-${id}`} rows="3" value=${input} onInput=${(e: any) => setInput(e.target.value)} />
      <div class="row">
        <button type="submit">Run</button>
        <button type="button" onClick=${() => guard(async () => setEstimate(await api('POST', `/dsl-graph/${encodeURIComponent(id)}/estimate`, { input: document() })))}>Estimate</button>
        <button type="button" onClick=${() => guard(async () => setVersions(await api('GET', `/workflows/${encodeURIComponent(id)}/versions`)))}>Versions</button>
      </div>
    </form>
    <${ErrorNote} error=${error} />
    ${estimate != null ? html`<h3>Estimate</h3><p>${estimate.feasible ? 'feasible' : 'not feasible'}, total price ${estimate.total_price}, critical path ${estimate.critical_path_ms} ms</p>
      <table><thead><tr><th scope="col">Step</th><th scope="col">Placement</th><th scope="col">Chosen</th><th scope="col">Price</th><th scope="col">ETA</th></tr></thead>
      <tbody>${estimate.steps.map((s: any) => html`<tr><td>${s.step}</td><td>${s.placement}</td><td>${s.chosen?.provider ?? s.unavailable ?? ''}</td><td>${s.price}</td><td>${s.eta_ms}</td></tr>`)}</tbody></table>` : null}
    ${versions != null ? html`<h3>Versions</h3><pre tabindex="0">${preview(versions).text}</pre>` : null}
  </article>`
}

export function WorkflowsPage (): any {
  const { data, error, reload } = usePoll<{ workflows: any[] }>('/workflows', 0)
  const [upload, setUpload] = useState<unknown>()
  const send = async (e: Event): Promise<void> => {
    e.preventDefault()
    const form = new FormData(e.target as HTMLFormElement)
    try {
      setUpload(undefined)
      await api('POST', '/uploadWorkflow', undefined, { raw: form })
      reload()
    } catch (err) { setUpload(err) }
  }
  return html`<h1>Workflows</h1>
    <form class="row" onSubmit=${send} aria-label="Upload a workflow bundle">
      <label>Workflow ZIP <input type="file" name="file" accept=".zip,application/zip" required /></label>
      <button type="submit">Upload</button>
    </form>
    <${ErrorNote} error=${upload} />
    <${ErrorNote} error=${error} />
    ${data == null ? html`<p>Loading…</p>` : data.workflows.length === 0 ? html`<p>No workflows registered (upload a ZIP, or <code>pl workflow publish</code>).</p>` : data.workflows.map(w => html`<${Workflow} w=${w} />`)}`
}

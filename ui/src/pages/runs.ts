import { html, when, ErrorNote } from '../html.js'
import { usePoll } from '../poll.js'

export function RunsPage (): any {
  const { data, error } = usePoll<any[]>('/runs', 2000)
  const runs = [...(data ?? [])].sort((a, b) => b.created - a.created)
  return html`<h1>Runs</h1>
    <${ErrorNote} error=${error} />
    ${data == null ? html`<p>Loading…</p>` : runs.length === 0 ? html`<p>No runs yet.</p>` : html`<table>
      <thead><tr><th scope="col">Run</th><th scope="col">Name</th><th scope="col">State</th><th scope="col">Created</th><th scope="col">Receipts</th></tr></thead>
      <tbody>${runs.map(r => html`<tr data-run=${r.id}><td><a href=${`#/runs/${encodeURIComponent(r.id)}`}><code>${r.id}</code></a></td><td>${r.name}</td><td><span class=${`badge state-${r.state}`}>${r.state}</span></td><td>${when(r.created)}</td><td><a href=${`#/receipts/${encodeURIComponent(r.id)}`}>receipts</a></td></tr>`)}</tbody>
    </table>`}`
}

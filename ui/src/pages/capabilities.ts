import { useState } from 'preact/hooks'
import { html, short, ErrorNote } from '../html.js'
import { api } from '../api.js'
import { usePoll } from '../poll.js'
import { PublishForm } from './publish.js'

interface Row { name: string, version: string, providers: Array<{ provider: string, price?: unknown, attrs?: Record<string, unknown>, source: string }>, descriptor: any }

function group (entries: Array<{ descriptor: any, provider?: string, source?: string }>, self?: string): Row[] {
  const rows = new Map<string, Row>()
  for (const e of entries) {
    const d = e.descriptor ?? {}
    const key = `${String(d.name)}@${String(d.version)}`
    const row = rows.get(key) ?? { name: String(d.name), version: String(d.version), providers: [], descriptor: d }
    row.providers.push({ provider: e.provider ?? self ?? '', price: d.price, attrs: d.attrs, source: e.source ?? 'local' })
    rows.set(key, row)
  }
  return [...rows.values()].sort((a, b) => a.name.localeCompare(b.name))
}

function Io ({ d }: { d: any }): any {
  const fmt = (s: unknown): string => typeof s === 'string' ? s : JSON.stringify(s, null, 2)
  return html`<details><summary>io, limits, policies</summary>
    <h4>input</h4><pre tabindex="0">${fmt(d.io?.input ?? 'any')}</pre>
    <h4>output</h4><pre tabindex="0">${fmt(d.io?.output ?? 'any')}</pre>
    ${d.limits != null ? html`<h4>limits</h4><pre tabindex="0">${fmt(d.limits)}</pre>` : null}
    ${d.policies != null ? html`<h4>policies</h4><pre tabindex="0">${fmt(d.policies)}</pre>` : null}
    ${d.attestations != null ? html`<h4>attestations</h4><pre tabindex="0">${fmt(d.attestations)}</pre>` : null}
  </details>`
}

function Table ({ rows, caption, onUnpublish }: { rows: Row[], caption: string, onUnpublish?: (r: Row) => void }): any {
  if (rows.length === 0) return html`<p>${caption}: none.</p>`
  return html`<table><caption>${caption}</caption><thead><tr><th scope="col">Name</th><th scope="col">Version</th><th scope="col">Providers (price, attributes)</th><th scope="col">Details</th>${onUnpublish != null ? html`<th scope="col">Publishing</th>` : null}</tr></thead>
    <tbody>${rows.map(r => html`<tr data-cap=${r.name}><td>${r.name}</td><td>${r.version}</td>
      <td><ul class="plain">${r.providers.map(p => html`<li><code title=${p.provider}>${short(p.provider)}</code> ${p.price != null ? html`<span class="tag">price ${JSON.stringify(p.price)}</span>` : null} ${Object.entries(p.attrs ?? {}).map(([k, v]) => html`<span class="tag">${k} ${String(v)}</span>`)} <span class="muted">${p.source}</span></li>`)}</ul></td>
      <td><${Io} d=${r.descriptor} /></td>
      ${onUnpublish != null ? html`<td><button type="button" class="danger" onClick=${() => onUnpublish(r)}>Unpublish ${r.name}</button></td>` : null}</tr>`)}</tbody></table>`
}

export function CapabilitiesPage (): any {
  const { data, error, reload } = usePoll<any>('/capabilities', 10_000)
  const [unpublishError, setUnpublishError] = useState<unknown>()
  const unpublish = async (r: Row): Promise<void> => {
    const local = (data?.local ?? []).find((c: any) => c.descriptor?.name === r.name && c.descriptor?.version === r.version)
    if (local == null || !confirm(`Stop publishing ${r.name} ${r.version}?`)) return
    try { setUnpublishError(undefined); await api('DELETE', `/capabilities/${encodeURIComponent(local.cid)}`); reload() } catch (err) { setUnpublishError(err) }
  }
  const [q, setQ] = useState({ name: '', version: '', attr: '', local: false })
  const [found, setFound] = useState<Row[]>()
  const [findError, setFindError] = useState<unknown>()
  const search = async (e: Event): Promise<void> => {
    e.preventDefault()
    const p = new URLSearchParams({ name: q.name.trim(), timeout: '3000' })
    if (q.version.trim() !== '') p.set('version', q.version.trim())
    for (const a of q.attr.split(',').map(s => s.trim()).filter(s => s !== '')) p.append('attr', a)
    if (q.local) p.set('local', '1')
    try {
      setFindError(undefined)
      setFound(group(await api<any[]>('GET', `/capabilities/find?${p.toString()}`)))
    } catch (err) { setFindError(err) }
  }
  const set = (k: string) => (e: any) => { setQ({ ...q, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value }) }
  return html`<h1>Capabilities</h1>
    <form class="row" onSubmit=${search} aria-label="Find providers">
      <label>Name <input required value=${q.name} onInput=${set('name')} /></label>
      <label>Version <input value=${q.version} onInput=${set('version')} size="8" /></label>
      <label>Attributes <input value=${q.attr} onInput=${set('attr')} placeholder="readability>=0.8" /></label>
      <label><input type="checkbox" checked=${q.local} onChange=${set('local')} /> this node only</label>
      <button type="submit">Find</button>
    </form>
    <${ErrorNote} error=${findError} />
    ${found != null ? html`<${Table} rows=${found} caption="Found" />` : null}
    <${ErrorNote} error=${error} />
    <${ErrorNote} error=${unpublishError} />
    ${data != null ? html`<${Table} rows=${group(data.local, 'this node')} caption="Published by this node" onUnpublish=${unpublish} /><${Table} rows=${group(data.catalog)} caption="Heard from the mesh" />` : html`<p>Loading…</p>`}
    <${PublishForm} locals=${data?.local ?? []} onPublished=${reload} />`
}

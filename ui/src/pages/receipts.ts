import { useEffect, useState } from 'preact/hooks'
import { html, short, ErrorNote } from '../html.js'
import { api, download } from '../api.js'
import { Graph } from '../dag.js'
import { checkExport, type ReceiptCheck } from '../verify.js'

function Checked ({ doc, source }: { doc: any, source: string }): any {
  const [result, setResult] = useState<{ checks: ReceiptCheck[], missingPrev: string[], rootOk: boolean }>()
  const [error, setError] = useState<unknown>()
  useEffect(() => { setResult(undefined); checkExport(doc).then(setResult, setError) }, [doc])
  if (error != null) return html`<${ErrorNote} error=${error} />`
  if (result == null) return html`<p>Checking signatures…</p>`
  const receipts = doc.receipts ?? []
  const all = result.checks.every(c => c.ok) && result.missingPrev.length === 0 && result.rootOk
  const nodes = receipts.map((r: any, i: number) => ({ id: result.checks[i].cid || `#${i}`, label: `${String(r.receipt?.step)}`, sub: result.checks[i].ok ? '✔ verified' : '✘ failed', state: result.checks[i].ok ? 'verified' : 'failed', title: result.checks[i].cid }))
  const edges = receipts.flatMap((r: any, i: number) => (r.receipt?.prev ?? []).map((p: string) => ({ from: p, to: result.checks[i].cid })))
  return html`<p class=${all ? 'ok' : 'error'} data-testid="chain-verdict" data-verdict=${all ? 'verified' : 'failed'}>
      ${source}: ${all ? '✔ every signature verified in this browser, chain and root check out' : `✘ verification failed${result.rootOk ? '' : ' (root does not match)'}${result.missingPrev.length > 0 ? ` (${result.missingPrev.length} missing links)` : ''}`}</p>
    <${Graph} nodes=${nodes} edges=${edges} label="Receipt chain" />
    <table><thead><tr><th scope="col">Step</th><th scope="col">Receipt CID</th><th scope="col">Provider</th><th scope="col">Status</th><th scope="col">Provider sig</th><th scope="col">Requester sig</th><th scope="col">Check</th></tr></thead>
      <tbody>${receipts.map((r: any, i: number) => { const c = result.checks[i]; return html`<tr data-receipt=${c.cid} data-verified=${String(c.ok)}><td>${r.receipt?.step}</td><td><code title=${c.cid}>${short(c.cid)}</code></td><td><code title=${r.receipt?.provider}>${short(r.receipt?.provider)}</code></td><td>${r.receipt?.status}</td><td>${c.provider ? '✔' : '✘'}</td><td>${c.requester == null ? '–' : c.requester ? '✔' : '✘'}</td><td class=${c.ok ? 'ok' : 'error'}>${c.ok ? 'verified' : `failed: ${c.problem ?? ''}`}</td></tr>` })}</tbody></table>`
}

export function ReceiptsPage ({ id }: { id?: string }): any {
  const [runId, setRunId] = useState(id ?? '')
  const [doc, setDoc] = useState<any>()
  const [file, setFile] = useState<{ doc: any, name: string }>()
  const [error, setError] = useState<unknown>()
  useEffect(() => {
    setDoc(undefined)
    if (id == null) return
    api('GET', `/runs/${encodeURIComponent(id)}/receipts`).then(setDoc, setError)
  }, [id])
  const open = async (e: Event): Promise<void> => {
    const f = (e.target as HTMLInputElement).files?.[0]
    if (f == null) return
    try { setFile({ doc: JSON.parse(await f.text()), name: f.name }) } catch (err) { setError(err) }
  }
  return html`<h1>Receipts</h1>
    <form class="row" onSubmit=${(e: Event) => { e.preventDefault(); location.hash = `#/receipts/${encodeURIComponent(runId.trim())}` }}>
      <label>Run id <input value=${runId} onInput=${(e: any) => setRunId(e.target.value)} /></label>
      <button type="submit">Show</button>
      <label>Check an export file <input type="file" accept=".json,application/json" onChange=${open} /></label>
    </form>
    <${ErrorNote} error=${error} />
    ${file != null ? html`<section aria-label="Checked file"><h2>File ${file.name}</h2><${Checked} doc=${file.doc} source=${file.name} /></section>` : null}
    ${doc != null ? html`<section aria-label="Run receipts"><h2>Run <code>${doc.run}</code> · root <code title=${doc.root}>${short(doc.root)}</code></h2>
      <button type="button" onClick=${() => download(`receipts-${String(doc.run)}.json`, JSON.stringify(doc, null, 2))}>Download export</button>
      <${Checked} doc=${doc} source="node's export" /></section>` : null}`
}

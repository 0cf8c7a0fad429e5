// The Capabilities page's "Publish a capability" form (shown to keys with the
// publish scope): a descriptor (YAML or JSON) and an implementation — an
// uploaded module (function.mjs, function.py or a ZIP of a module folder) or
// the module of a capability this node already publishes — sent to
// POST /capabilities. Shows the new CID or the typed error.
import { useState } from 'preact/hooks'
import { html, ErrorNote } from '../html.js'
import { api } from '../api.js'
import { usePoll } from '../poll.js'

export const SAMPLE_DESCRIPTOR = `# Capability.v1 (provider is filled in)
name: Shout
version: 1.0.0
description: Upper-cases a text.
io:
  input: { type: object, required: [text], properties: { text: { type: string } } }
  output: { type: object, required: [text], properties: { text: { type: string } } }
limits: { wall_ms: 10000, mem_mb: 128 }
attrs: { loudness: 1 }
`

function base64 (bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}

/** The upload of a chosen file: a ZIP, or one entry file (named after its extension). */
async function uploadOf (file: File): Promise<Record<string, string>> {
  const content = base64(new Uint8Array(await file.arrayBuffer()))
  const ext = /\.([a-z]+)$/i.exec(file.name)?.[1]?.toLowerCase()
  if (ext === 'zip') return { zip: content }
  return { file: ext === 'mjs' || ext === 'js' || ext === 'py' ? `function.${ext}` : file.name, content }
}

export function PublishForm ({ locals, onPublished }: { locals: Array<{ cid: string, descriptor: any, active?: boolean }>, onPublished: () => void }): any {
  const { data: options } = usePoll<{ allowed: boolean, python: boolean, maxUploadBytes: number }>('/capabilities/publish-options', 0)
  const [text, setText] = useState(SAMPLE_DESCRIPTOR)
  const [mode, setMode] = useState<'upload' | 'like'>('upload')
  const [file, setFile] = useState<File>()
  const [like, setLike] = useState('')
  const [price, setPrice] = useState('')
  const [busy, setBusy] = useState(false)
  const [result, setResult] = useState<{ cid: string, descriptor: any }>()
  const [error, setError] = useState<unknown>()
  if (options?.allowed !== true) return null
  const reusable = locals.filter(c => c.active !== false)
  // the chosen capability may have been replaced (re-published): fall back to the first one listed
  const likeCid = reusable.some(c => c.cid === like) ? like : reusable[0]?.cid ?? ''
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    setResult(undefined)
    try {
      let impl: Record<string, unknown>
      if (mode === 'upload') {
        if (file == null) throw new Error('choose a module file')
        impl = { upload: await uploadOf(file) }
      } else {
        const chosen = likeCid !== '' ? likeCid : undefined
        if (chosen == null) throw new Error('this node publishes no capability whose module could be reused')
        impl = { like: chosen }
      }
      const res = await api<{ cid: string, descriptor: any }>('POST', '/capabilities', { descriptor: text, impl, ...(price.trim() !== '' ? { price: Number(price) } : {}) })
      setResult(res)
      onPublished()
    } catch (err) { setError(err) } finally { setBusy(false) }
  }
  const accept = options.python ? '.mjs,.js,.py,.zip' : '.mjs,.js,.zip'
  // labels stand beside their controls (for=): a label wrapping a textarea or select would take its value into its name
  return html`<form class="publish" onSubmit=${submit} aria-labelledby="publish-title">
    <h2 id="publish-title">Publish a capability</h2>
    <label for="pub-descriptor">Descriptor (YAML or JSON)</label>
    <textarea id="pub-descriptor" rows="11" spellcheck=${false} value=${text} onInput=${(e: any) => { setText(e.target.value) }} required></textarea>
    <div class="row">
      <label for="pub-impl">Implementation</label>
      <select id="pub-impl" value=${mode} onChange=${(e: any) => { setMode(e.target.value) }}>
        <option value="upload">upload a module</option>
        ${reusable.length > 0 ? html`<option value="like">reuse a local capability's code</option>` : null}
      </select>
      ${mode === 'upload'
        ? html`<label for="pub-file">Module file (function.mjs${options.python ? ', function.py' : ''} or a ZIP of the module folder, at most ${Math.round(options.maxUploadBytes / 1024)} KB)</label>
            <input id="pub-file" type="file" accept=${accept} required onChange=${(e: any) => { setFile(e.target.files?.[0]) }} />`
        : html`<label for="pub-like">Code of</label>
            <select id="pub-like" value=${likeCid} onChange=${(e: any) => { setLike(e.target.value) }}>
              ${reusable.map(c => html`<option value=${c.cid}>${String(c.descriptor?.name)} ${String(c.descriptor?.version)}</option>`)}
            </select>`}
    </div>
    <div class="row">
      <label for="pub-price">Price</label>
      <input id="pub-price" type="number" min="0" step="any" size="6" value=${price} onInput=${(e: any) => { setPrice(e.target.value) }} placeholder="from the descriptor" />
      <button type="submit" disabled=${busy}>${busy ? 'Publishing…' : 'Publish'}</button>
    </div>
    ${result != null ? html`<p role="status" data-testid="published">Published ${String(result.descriptor?.name)} ${String(result.descriptor?.version)}: <code data-testid="published-cid">${result.cid}</code></p>` : null}
    <${ErrorNote} error=${error} />
  </form>`
}

// The pl web console: a hash router over five pages, a login gate, and the
// one-time login link `pl ui` prints (#login=<token>, exchanged once for a
// session key kept in sessionStorage).
import './style.css'
import 'uplot/dist/uPlot.min.css'
import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { html, ErrorNote } from './html.js'
import { apiKey, login, setApiKey } from './api.js'
import { NodePage } from './pages/node.js'
import { CapabilitiesPage } from './pages/capabilities.js'
import { WorkflowsPage } from './pages/workflows.js'
import { RunsPage } from './pages/runs.js'
import { RunPage } from './pages/run.js'
import { ReceiptsPage } from './pages/receipts.js'

const PAGES = [
  { path: 'node', title: 'Node' },
  { path: 'capabilities', title: 'Capabilities' },
  { path: 'workflows', title: 'Workflows' },
  { path: 'runs', title: 'Runs' },
  { path: 'receipts', title: 'Receipts' }
]

function route (): string[] {
  return location.hash.replace(/^#\/?/, '').split('/').filter(s => s !== '').map(decodeURIComponent)
}

function Login ({ onDone }: { onDone: () => void }): any {
  const [key, setKey] = useState('')
  const [error, setError] = useState<unknown>()
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setApiKey(key.trim())
    try {
      const r = await fetch('/runs', { headers: { authorization: `Bearer ${key.trim()}` } })
      if (!r.ok) throw new Error((await r.json()).error?.message ?? `HTTP ${r.status}`)
      onDone()
    } catch (err) {
      setApiKey(null)
      setError(err)
    }
  }
  return html`<main id="main" class="login">
    <h1>pl console</h1>
    <p>Enter an API key (<code>pl api-key create --name me --scopes read,submit</code>), or open the link <code>pl ui</code> prints.</p>
    <form onSubmit=${submit}>
      <label for="apikey">API key</label>
      <input id="apikey" type="password" autocomplete="off" value=${key} onInput=${(e: any) => setKey(e.target.value)} />
      <button type="submit">Sign in</button>
    </form>
    <${ErrorNote} error=${error} />
  </main>`
}

function App (): any {
  const [parts, setParts] = useState(route())
  const [authed, setAuthed] = useState(apiKey() != null)
  const [loginError, setLoginError] = useState<unknown>()
  useEffect(() => {
    const onHash = (): void => { setParts(route()) }
    const onUnauthorized = (): void => { setApiKey(null); setAuthed(false) }
    window.addEventListener('hashchange', onHash)
    window.addEventListener('pl:unauthorized', onUnauthorized)
    const m = /^#login=([A-Za-z0-9_-]+)$/.exec(location.hash)
    if (m != null) {
      // spend the one-time token at once and drop it from the address bar and history
      history.replaceState(null, '', `${location.pathname}#/runs`)
      setParts(route())
      login(m[1]).then(() => { setAuthed(true) }, (err) => { setLoginError(err) })
    }
    return () => { window.removeEventListener('hashchange', onHash); window.removeEventListener('pl:unauthorized', onUnauthorized) }
  }, [])
  if (!authed) {
    return html`<${ErrorNote} error=${loginError} /><${Login} onDone=${() => { setAuthed(true) }} />`
  }
  const [page = 'runs', id] = parts
  let body
  if (page === 'node') body = html`<${NodePage} />`
  else if (page === 'capabilities') body = html`<${CapabilitiesPage} />`
  else if (page === 'workflows') body = html`<${WorkflowsPage} />`
  else if (page === 'runs' && id != null) body = html`<${RunPage} id=${id} />`
  else if (page === 'receipts') body = html`<${ReceiptsPage} id=${id} />`
  else body = html`<${RunsPage} />`
  return html`<a class="skip" href="#main" onClick=${(e: Event) => { e.preventDefault(); document.getElementById('main')?.focus() }}>Skip to content</a>
    <header>
      <span class="brand">pl</span>
      <nav aria-label="Pages">
        ${PAGES.map(p => html`<a href=${`#/${p.path}`} aria-current=${p.path === page ? 'page' : undefined}>${p.title}</a>`)}
      </nav>
      <button type="button" class="signout" onClick=${() => { setApiKey(null); setAuthed(false) }}>Sign out</button>
    </header>
    <main id="main" tabindex="-1">${body}</main>`
}

render(html`<${App} />`, document.getElementById('app') as HTMLElement)

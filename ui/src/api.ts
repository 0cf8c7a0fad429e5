// The console's only way to the node: the public gateway API, with the API
// key kept in sessionStorage (per tab, gone when the browser session ends).
const KEY = 'pl.apiKey'

export class ApiError extends Error {
  constructor (readonly status: number, readonly errName: string, message: string) {
    super(message)
  }
}

export function apiKey (): string | null {
  return sessionStorage.getItem(KEY)
}

export function setApiKey (key: string | null): void {
  if (key == null) sessionStorage.removeItem(KEY)
  else sessionStorage.setItem(KEY, key)
}

export async function api<T = any> (method: string, path: string, body?: unknown, init: { raw?: BodyInit, public?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = {}
  const key = apiKey()
  if (key != null && init.public !== true) headers.authorization = `Bearer ${key}`
  let payload: BodyInit | undefined = init.raw
  if (body !== undefined) {
    headers['content-type'] = 'application/json'
    payload = JSON.stringify(body)
  }
  const res = await fetch(path, { method, headers, body: payload })
  const text = await res.text()
  let json: any
  try { json = text === '' ? undefined : JSON.parse(text) } catch { json = text }
  if (!res.ok) {
    const e = json?.error ?? {}
    if (res.status === 401 && init.public !== true) window.dispatchEvent(new CustomEvent('pl:unauthorized'))
    throw new ApiError(res.status, String(e.name ?? `HTTP ${res.status}`), String(e.message ?? text))
  }
  return json as T
}

/** Exchanges a one-time login token (the `#login=` fragment `pl ui` prints) for a session key. */
export async function login (token: string): Promise<void> {
  const s = await api<{ key: string }>('POST', '/ui/session', { token }, { public: true })
  setApiKey(s.key)
}

export type RunMessage = { type: string, run?: string, seq?: number, event?: any, error?: { name: string, message: string } }

/** Follows a run's events over the gateway WebSocket; returns a closer. */
export function followRun (run: string, onMessage: (m: RunMessage) => void, onClose: () => void): () => void {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const ws = new WebSocket(`${proto}//${location.host}/ws?access_token=${encodeURIComponent(apiKey() ?? '')}`)
  let closed = false
  ws.onopen = () => { ws.send(JSON.stringify({ op: 'subscribe', run, since: 0 })) }
  ws.onmessage = (e) => {
    try { onMessage(JSON.parse(String(e.data))) } catch {}
  }
  ws.onclose = () => { if (!closed) onClose() }
  return () => { closed = true; ws.close() }
}

/** Saves `data` as a file (a Blob URL; nothing leaves the browser). */
export function download (name: string, data: string | Uint8Array, type = 'application/json'): void {
  const url = URL.createObjectURL(new Blob([data as BlobPart], { type }))
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

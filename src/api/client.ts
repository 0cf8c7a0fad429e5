import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CONTROL_FILE } from './control-file.js'
import { ControlApiUnavailableError } from './errors.js'

/** Response header of paged routes naming the next page's cursor (absent on the last page). */
export const NEXT_CURSOR_HEADER = 'x-pl-next-cursor'
import { errorFromData, type PlError } from '../core/errors.js'

/** Talks to the control API of the pl process that holds a data dir. */
export class ControlClient {
  constructor (readonly url: string, private readonly token: string) {}

  static async fromDataDir (dataDir: string): Promise<ControlClient> {
    let text: string
    try {
      text = await readFile(join(dataDir, CONTROL_FILE), 'utf8')
    } catch {
      throw new ControlApiUnavailableError(`no running pl-node for data dir ${dataDir} (no ${CONTROL_FILE}); start one with: pl-node start --data-dir ${dataDir}`)
    }
    const { url, token } = JSON.parse(text) as { url: string, token: string }
    return new ControlClient(url, token)
  }

  async request<T = any> (method: string, path: string, body?: unknown, options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<T> {
    return (await this.send<T>(method, path, body, options)).json
  }

  /**
   * Every page of a paged route (`GET`/`POST /caps/find`): follows the
   * `x-pl-next-cursor` header (GET: `cursor` query parameter; POST: `cursor`
   * in the body) until the last page, and returns all results in order.
   * `maxPages` guards against a server that never ends.
   */
  async requestAll<T = any> (method: 'GET' | 'POST', path: string, body?: Record<string, unknown>, options: { signal?: AbortSignal, timeoutMs?: number, maxPages?: number } = {}): Promise<T[]> {
    const out: T[] = []
    let cursor: string | undefined
    const maxPages = options.maxPages ?? 10_000
    for (let page = 0; page < maxPages; page++) {
      const url = cursor == null || method === 'POST' ? path : `${path}${path.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}`
      const res = await this.send<T[]>(method, url, method === 'POST' ? { ...body, ...(cursor != null ? { cursor } : {}) } : body, options)
      if (!Array.isArray(res.json)) throw new TypeError(`${method} ${path} is not a paged route (its answer is not a list)`)
      out.push(...res.json)
      const next = res.headers.get(NEXT_CURSOR_HEADER)
      if (next == null || next === '' || res.json.length === 0) return out
      cursor = next
    }
    throw new TypeError(`${method} ${path}: more than ${maxPages} pages`)
  }

  private async send<T> (method: string, path: string, body: unknown, options: { signal?: AbortSignal, timeoutMs?: number }): Promise<{ json: T, headers: Headers }> {
    const signal = options.signal ?? AbortSignal.timeout(options.timeoutMs ?? 120_000)
    let res: Response
    try {
      res = await fetch(this.url + path, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal
      })
    } catch (err: any) {
      throw new ControlApiUnavailableError(`cannot reach the control API at ${this.url}: ${err.cause?.code ?? err.message}`)
    }
    const text = await res.text()
    const json = text === '' ? undefined : JSON.parse(text)
    if (!res.ok) {
      const e: PlError = errorFromData(json?.error ?? { name: 'ControlApiError', message: `HTTP ${res.status}` })
      throw e
    }
    return { json: json as T, headers: res.headers }
  }
}

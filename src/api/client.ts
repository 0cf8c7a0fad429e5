import { readFile } from 'node:fs/promises'
import type * as Http from 'node:http'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { CONTROL_FILE } from './control-file.js'
import { ControlApiUnavailableError } from './errors.js'
import { errorFromData, type PlError } from '../core/errors.js'

// required as CommonJS: an ESM import of node:http reads every export, and three of them are getters
// that load Node's built-in undici (what `fetch` would load) — see send() and scripts/build-bundle.mjs
const { request: httpRequest } = createRequire(import.meta.url)('node:http') as typeof Http

/** Response header of paged routes naming the next page's cursor (absent on the last page). */
export const NEXT_CURSOR_HEADER = 'x-pl-next-cursor'

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
      const next = res.headers[NEXT_CURSOR_HEADER]
      if (typeof next !== 'string' || next === '' || res.json.length === 0) return out
      cursor = next
    }
    throw new TypeError(`${method} ${path}: more than ${maxPages} pages`)
  }

  /**
   * One call over `node:http` rather than `fetch`: a `pl` command is a short
   * process, and `fetch` loads undici (its sources, web streams and the
   * llhttp WebAssembly) on its first call: `pl status` took ~360 ms with it
   * and ~220 ms without here, more than the command's own work
   * (docs/PERFORMANCE.md, "Control calls without undici").
   */
  private async send<T> (method: string, path: string, body: unknown, options: { signal?: AbortSignal, timeoutMs?: number }): Promise<{ json: T, headers: Http.IncomingHttpHeaders }> {
    const timeoutMs = options.timeoutMs ?? 120_000
    const signal = options.signal ?? AbortSignal.timeout(timeoutMs)
    const payload = body !== undefined ? JSON.stringify(body) : undefined
    let res: { status: number, headers: Http.IncomingHttpHeaders, text: string }
    try {
      res = await new Promise((resolve, reject) => {
        const req = httpRequest(this.url + path, {
          method,
          signal,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {})
          }
        }, (response) => {
          const chunks: Buffer[] = []
          response.on('data', (chunk: Buffer) => { chunks.push(chunk) })
          response.on('error', reject)
          response.on('end', () => { resolve({ status: response.statusCode ?? 0, headers: response.headers, text: Buffer.concat(chunks).toString('utf8') }) })
        })
        req.on('error', reject)
        req.end(payload)
      })
    } catch (err: any) {
      const why = signal.aborted ? (options.signal == null ? `no answer within ${timeoutMs} ms` : 'aborted') : err.code ?? err.message
      throw new ControlApiUnavailableError(`cannot reach the control API at ${this.url}: ${String(why)}`)
    }
    const json = res.text === '' ? undefined : JSON.parse(res.text)
    if (res.status < 200 || res.status > 299) {
      const e: PlError = errorFromData(json?.error ?? { name: 'ControlApiError', message: `HTTP ${res.status}` })
      throw e
    }
    return { json: json as T, headers: res.headers }
  }
}

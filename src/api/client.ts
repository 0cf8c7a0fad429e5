import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CONTROL_FILE } from './control.js'
import { ControlApiUnavailableError } from './errors.js'
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
    return json as T
  }
}

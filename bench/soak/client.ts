/**
 * Talks to the control API of one swarm member, re-reading its
 * `control.json` whenever the member's process changed (a restarted node
 * listens on a new control port with a new token).
 *
 * @example
 * const api = new MemberApi(swarm, 0)
 * const { status, json } = await api.request('GET', '/runs/abc', undefined, 5000)
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CONTROL_FILE } from '../../src/api/control-file.js'
import { ControlApiUnavailableError } from '../../src/api/errors.js'
import type { Swarm } from '../../src/swarm/index.js'

export interface ApiResponse { status: number, json: any }

export class MemberApi {
  private cached?: { pid: number, url: string, token: string }

  constructor (private readonly swarm: Swarm, readonly index: number) {}

  private async endpoint (): Promise<{ url: string, token: string }> {
    const m = this.swarm.members[this.index]
    const pid = m.proc?.pid
    if (pid == null || !this.swarm.isRunning(this.index)) throw new ControlApiUnavailableError(`node ${this.index} is not running`)
    if (this.cached?.pid === pid) return this.cached
    let text: string
    try {
      text = await readFile(join(m.dataDir, CONTROL_FILE), 'utf8')
    } catch {
      throw new ControlApiUnavailableError(`node ${this.index} has no ${CONTROL_FILE} yet`)
    }
    const info = JSON.parse(text) as { url: string, token: string, pid?: number }
    // a control.json left by the previous (killed) process names another pid
    if (info.pid != null && info.pid !== pid) throw new ControlApiUnavailableError(`node ${this.index}: ${CONTROL_FILE} is from an earlier process`)
    this.cached = { pid, url: info.url, token: info.token }
    return this.cached
  }

  /**
   * One HTTP call; resolves with any status (the caller decides), throws
   * ControlApiUnavailableError when the node cannot be reached or does not
   * answer within `timeoutMs` (e.g. it is SIGSTOPped).
   */
  async request (method: string, path: string, body?: unknown, timeoutMs = 5000): Promise<ApiResponse> {
    const { url, token } = await this.endpoint()
    let res: Response
    let text: string
    try {
      res = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(timeoutMs)
      })
      text = await res.text()
    } catch (err: any) {
      throw new ControlApiUnavailableError(`node ${this.index}: ${method} ${path}: ${err?.cause?.code ?? err?.name ?? String(err)}`)
    }
    let json: any
    try { json = text === '' ? undefined : JSON.parse(text) } catch { json = { raw: text.slice(0, 200) } }
    return { status: res.status, json }
  }
}

/** `{name, message}` of an error response body (`{error: {name, message}}`), or a generic one naming the status. */
export function errorOf (res: ApiResponse): { name: string, message: string } {
  const e = res.json?.error
  if (e != null && typeof e === 'object' && typeof e.name === 'string') return { name: e.name, message: String(e.message ?? '') }
  return { name: `HTTP${res.status}`, message: typeof e === 'string' ? e : JSON.stringify(res.json ?? '').slice(0, 200) }
}

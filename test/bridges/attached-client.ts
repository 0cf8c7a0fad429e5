/**
 * A small attached provider for tests: connects to a gateway's /attach,
 * registers a spec and answers calls with `handler` (which may hang, throw
 * or return anything). Every frame the node sent is kept in `frames`.
 */
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import type { TestMesh } from '../helpers/mesh.js'
import type { ExecService } from '../../src/exec/index.js'
import { gw, http } from '../gateway/helpers.js'

/** Runs the one-step plan `Summarize(text)` from node 0's gateway and waits for the run to end. */
export async function runSummarize (mesh: TestMesh, key: string, text: string): Promise<{ run: any, id: string }> {
  const dsl = 'goal: Sum\ninputs:\n  text: x\nplan:\n  - step: Summarize(text)\n'
  const res = await http(gw(mesh.nodes[0]).address as string, 'POST', '/dsl-graph/sum/deploy', { key, body: { dsl, input: { text } } })
  assert.equal(res.status, 200, JSON.stringify(res.body))
  const id = res.body.runId as string
  return { run: await mesh.nodes[0].service<ExecService>('exec').executor.wait(id), id }
}

export type Handler = (input: any, frame: any) => Promise<unknown> | unknown

export class AttachClient {
  readonly frames: any[] = []
  private readonly waiters: Array<() => void> = []
  readonly closed: Promise<number>

  private constructor (readonly ws: WebSocket, public handler: Handler) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      this.frames.push(frame)
      for (const w of this.waiters.splice(0)) w()
      if (frame.type === 'call') void this.serve(frame)
    })
    this.closed = new Promise((resolve) => { ws.on('close', (code) => { resolve(code); for (const w of this.waiters.splice(0)) w() }) })
  }

  static async open (gateway: string, key: string | undefined, handler: Handler = (input) => input): Promise<AttachClient> {
    const ws = new WebSocket(gateway.replace(/^http/, 'ws') + '/attach', key != null ? { headers: { authorization: `Bearer ${key}` } } : {})
    const c = new AttachClient(ws, handler)
    await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve() }); ws.once('error', reject) })
    return c
  }

  private async serve (frame: any): Promise<void> {
    try {
      const output = await this.handler(frame.input, frame)
      if (output !== undefined) this.send({ op: 'result', call: frame.call, output })
    } catch (err) {
      this.send({ op: 'error', call: frame.call, error: { name: (err as Error).name, message: (err as Error).message } })
    }
  }

  send (msg: unknown): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg))
  }

  async register (spec: unknown, extra: Record<string, unknown> = {}): Promise<any> {
    const id = `reg-${this.frames.length}-${Math.random()}`
    this.send({ op: 'register', id, spec, ...extra })
    return await this.next(f => f.id === id, 'an answer to register')
  }

  /** The first frame (from the start) matching `pred`. */
  async next (pred: (f: any) => boolean, what: string, timeoutMs = 60_000): Promise<any> {
    const timeout = AbortSignal.timeout(timeoutMs)
    for (;;) {
      const found = this.frames.find(pred)
      if (found != null) return found
      if (timeout.aborted || this.ws.readyState === WebSocket.CLOSED) throw new Error(`no frame ${what}; got ${JSON.stringify(this.frames.slice(-5))}`)
      await new Promise<void>((resolve) => { this.waiters.push(resolve); timeout.addEventListener('abort', () => { resolve() }, { once: true }) })
    }
  }

  kill (): void {
    this.ws.terminate()
  }
}

/**
 * A real `nats-server` (Debian package) on a free 127.0.0.1 port with a temp
 * config, for the NATS binding's tests. `stop()` kills it (it can be
 * `restart()`ed on the same port to test reconnects); `close()` kills it for
 * good. `natsServerBinary()` is undefined when the binary is absent (tests
 * skip with that reason).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createServer, connect as tcpConnect } from 'node:net'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from './tmp.js'

export function natsServerBinary (): string | undefined {
  for (const p of ['nats-server', '/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    const r = spawnSync(p, ['--version'], { encoding: 'utf8' })
    if (r.status === 0) return p
  }
  return undefined
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port
      srv.close(() => { resolve(port) })
    })
  })
}

async function accepting (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true) })
    s.once('error', () => { resolve(false) })
  })
}

export interface NatsServerInit {
  /** server max_payload @default 1 MiB (the server's own default) */
  maxPayload?: number
}

export class NatsServer {
  private proc?: ChildProcess
  private exited?: Promise<void>

  private constructor (readonly bin: string, readonly port: number, readonly configFile: string, private readonly cleanup: () => Promise<void>) {}

  get url (): string { return `nats://127.0.0.1:${this.port}` }

  static async start (bin: string, init: NatsServerInit = {}): Promise<NatsServer> {
    const { dir, cleanup } = await tempDir('pl-nats-')
    const port = await freePort()
    const configFile = join(dir, 'nats.conf')
    await writeFile(configFile, `listen: 127.0.0.1:${port}\nmax_payload: ${init.maxPayload ?? 1024 * 1024}\n`)
    const server = new NatsServer(bin, port, configFile, cleanup)
    await server.restart()
    return server
  }

  /** Starts the server (again) on its port; resolves once it accepts connections. */
  async restart (timeoutMs = 30_000): Promise<void> {
    if (this.proc != null) return
    const proc = spawn(this.bin, ['-c', this.configFile], { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    proc.stderr?.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-10_000) })
    this.proc = proc
    this.exited = new Promise((resolve) => { proc.once('exit', () => { resolve() }) })
    const deadline = Date.now() + timeoutMs
    while (!await accepting(this.port)) {
      if (proc.exitCode != null) throw new Error(`nats-server exited with ${proc.exitCode}: ${err}`)
      if (Date.now() > deadline) throw new Error(`nats-server did not accept connections within ${timeoutMs} ms: ${err}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  /** Kills the server; resolves once the process is gone. */
  async stop (): Promise<void> {
    const proc = this.proc
    if (proc == null) return
    this.proc = undefined
    if (proc.exitCode == null && proc.signalCode == null) proc.kill('SIGKILL')
    await this.exited
  }

  async close (): Promise<void> {
    await this.stop()
    await this.cleanup()
  }
}

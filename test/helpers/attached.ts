/**
 * The mesh of the attached-provider tests (test/spec/provider-*.test.ts,
 * test/bridges/attached.test.ts): N real nodes with the daemon's services,
 * each serving the gateway on loopback, connected, with one key per node that
 * may read, submit and publish; generated providers run as real processes
 * attached to a node's gateway, their stdout JSON lines kept.
 *
 * @example
 * const am = await attachedMesh()
 * const p = await am.startProvider(1, 'python3', ['main.py'], { cwd: project, env: { PL_PRICE: '1' } })
 * const { run } = await am.runSummarize('some text')
 * await am.stop()
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { type TestMesh, waitFor } from './mesh.js'
import { gw, startMesh } from '../gateway/helpers.js'
import { runSummarize } from '../bridges/attached-client.js'

/** A provider process and the JSON lines it printed (`{registered: …}`, the test handlers' `{started: …}`). */
export interface ProviderProc { child: ChildProcess, lines: any[] }

export interface AttachedMesh {
  mesh: TestMesh
  /** node i's key (scopes read, submit, publish) */
  keys: string[]
  /** every provider started, in order */
  procs: ProviderProc[]
  /** node i's gateway URL */
  base: (i: number) => string
  /** Spawns a provider attached to node `node`'s gateway (PL_GATEWAY, PL_API_KEY set) and waits for it to print `{registered}`. */
  startProvider: (node: number, command: string, args: string[], options: { cwd: string, env?: Record<string, string> }) => Promise<ProviderProc>
  /** Runs the one-step plan `Summarize(text)` from node 0 and waits for it to end. */
  runSummarize: (text: string) => Promise<{ run: any, id: string }>
  /** Kills the providers and stops the mesh. */
  stop: () => Promise<void>
}

export async function attachedMesh (nodes = 3): Promise<AttachedMesh> {
  const mesh = await startMesh(nodes, () => ({}))
  const procs: ProviderProc[] = []
  const stop = async (): Promise<void> => {
    for (const p of procs) p.child.kill('SIGKILL')
    await mesh.stop()
  }
  try {
    await mesh.connected(nodes - 1, 120_000) // generous: the machines are shared and loaded
    const keys: string[] = []
    for (let i = 0; i < nodes; i++) keys.push((await gw(mesh.nodes[i]).keys.create({ name: 'provider', scopes: ['read', 'submit', 'publish'] })).key)
    const base = (i: number): string => gw(mesh.nodes[i]).address as string
    return {
      mesh,
      keys,
      procs,
      base,
      stop,
      runSummarize: async (text) => await runSummarize(mesh, keys[0], text),
      startProvider: async (node, command, args, options) => {
        const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, PL_GATEWAY: base(node), PL_API_KEY: keys[node], ...options.env }, stdio: ['ignore', 'pipe', 'inherit'] })
        const p: ProviderProc = { child, lines: [] }
        procs.push(p)
        let buf = ''
        child.stdout?.on('data', (d: Buffer) => {
          buf += d.toString()
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            try { p.lines.push(JSON.parse(buf.slice(0, i))) } catch {}
            buf = buf.slice(i + 1)
          }
        })
        await waitFor(() => p.lines.some(l => l.registered != null) || child.exitCode != null, 60_000, 'the provider to register')
        assert.equal(child.exitCode, null, 'the provider process runs')
        return p
      }
    }
  } catch (err) {
    await stop()
    throw err
  }
}

/**
 * Attached providers: a remote step served by a generated Python provider
 * attached to the provider node's gateway (`pl spec scaffold --provider`,
 * standard library only) against the same step served by a JS module inside
 * that node. Two real nodes on 127.0.0.1 (daemon services, gateways on);
 * each sample is a one-step plan deployed on the requester's gateway and
 * waited for (negotiation, award, exec, receipts). The ratio is the cost of
 * the process hop (WebSocket to the attached process and back).
 */
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '../test/helpers/mesh.js'
import { gw, http, startMesh } from '../test/gateway/helpers.js'
import type { Discovery } from '../src/discovery/index.js'
import type { ExecService } from '../src/exec/index.js'
import { scaffold } from '../src/spec/compiler/index.js'
import { latencyFigure, type Bench } from './harness.js'

const SAMPLES = 30
const HANDLER = `
from summarize_spec import models
from summarize_spec.provider import default_bid_summarize

def summarize(input, ctx):
    words = input.text.split()
    return models.SummarizeOutput(summary=" ".join(words[:3]), words=len(words))

def bid(cfp, ctx):
    return default_bid_summarize(cfp, ctx)
`
const JS = 'export default class M {\n  eval (p, d) { const words = String(d.text).split(/\\s+/); return { summary: words.slice(0, 3).join(" "), words: words.length } }\n}\n'

async function sample (): Promise<{ figures: Record<string, ReturnType<typeof latencyFigure>> }> {
  const dir = await mkdtemp(join(tmpdir(), 'pl-bench-attached-'))
  const mesh = await startMesh(2, () => ({}))
  const child = { kill: () => {} }
  try {
    await mesh.connected(1)
    const keys = [await gw(mesh.nodes[0]).keys.create({ name: 'b', scopes: ['read', 'submit'] }), await gw(mesh.nodes[1]).keys.create({ name: 'p', scopes: ['publish'] })].map(k => k.key)
    const project = join(dir, 'summarize')
    await scaffold(join(process.cwd(), 'examples', 'specs', 'Summarize.v1.json'), { lang: 'py', provider: true, out: project })
    await writeFile(join(project, 'handler.py'), HANDLER)
    const py = spawn('python3', ['main.py'], { cwd: project, env: { ...process.env, PL_GATEWAY: gw(mesh.nodes[1]).address, PL_API_KEY: keys[1], PYTHONDONTWRITEBYTECODE: '1' }, stdio: ['ignore', 'pipe', 'inherit'] })
    child.kill = () => { py.kill('SIGKILL') }
    const jsDir = join(dir, 'js')
    await mkdir(jsDir, { recursive: true })
    await writeFile(join(jsDir, 'function.mjs'), JS)
    await mesh.nodes[1].service<Discovery>('discovery').publish({ name: 'SummarizeJs', version: '1.0.0', io: { input: { type: 'object' }, output: { type: 'object' } } }, { dir: jsDir })
    await waitFor(async () => (await mesh.nodes[0].service<Discovery>('discovery').find({ name: 'Summarize' }, { localOnly: true })).length > 0 &&
      (await mesh.nodes[0].service<Discovery>('discovery').find({ name: 'SummarizeJs' }, { localOnly: true })).length > 0, 60_000, 'both capabilities to be seen')
    const base = gw(mesh.nodes[0]).address as string
    const once = async (cap: string): Promise<number> => {
      const t0 = performance.now()
      const res = await http(base, 'POST', '/dsl-graph/b/deploy', { key: keys[0], body: { dsl: `goal: B\ninputs:\n  text: x\nplan:\n  - step: ${cap}(text)\n`, input: { text: 'one two three four five' } } })
      const run = await mesh.nodes[0].service<ExecService>('exec').executor.wait(res.body.runId)
      if (run.state !== 'succeeded') throw new Error(`${cap} run ${run.state}: ${JSON.stringify(run.error)}`)
      return performance.now() - t0
    }
    await once('Summarize'); await once('SummarizeJs') // warm-up
    const attached: number[] = []
    const module: number[] = []
    for (let i = 0; i < SAMPLES; i++) {
      module.push(await once('SummarizeJs'))
      attached.push(await once('Summarize'))
    }
    return { figures: { 'remote step, attached Python provider vs JS module in the node (ms)': latencyFigure(attached, { name: 'JS module in the node', samples: module }) } }
  } finally {
    child.kill()
    await mesh.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

export const benches: Bench[] = [{ name: 'attached provider step', run: sample }]

/**
 * Test helpers for negotiation: real module folders, capability offers of
 * real mesh nodes, an in-test CandidateFinder over them, and hand-built
 * Task DAGs / step contexts.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cidStringOf } from '../../src/core/encoding.js'
import { moduleSpecOf, type ModuleSpec } from '../../src/core/index.js'
import { silentLogger } from '../../src/core/logger.js'
import { ModulePool } from '../../src/exec/index.js'
import type { PlNode } from '../../src/node.js'
import type { Step, TaskDag, SelectWeight } from '../../src/workflow/index.js'
import type { StepContext } from '../../src/exec/types.js'
import type { CapabilityDescriptor, Candidate, CandidateFinder, LocalCapabilities, LocalOffer, RunStep } from '../../src/negotiation/types.js'

/** Writes a JS module folder whose class body is `evalBody` (the body of `async eval (parameters, inputData, context)`). */
export async function writeModule (root: string, name: string, evalBody: string): Promise<ModuleSpec> {
  const dir = join(root, name)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'function.mjs'), `export default class M {\n  constructor (name, settings, parameters, globalSettings) { this.g = globalSettings }\n  async eval (parameters, inputData, context) {\n${evalBody}\n  }\n}\n`)
  return await moduleSpecOf(name, dir)
}

/** The real executor's module pool as the providers' RunStep. */
export function poolRunStep (pool: ModulePool): RunStep {
  return async (module, call, options) => await pool.runModule(module, call, options)
}

export { ModulePool }

export type OfferInput = Omit<CapabilityDescriptor, 'provider' | 'version' | 'io' | 'limits'> & Partial<Pick<CapabilityDescriptor, 'version' | 'limits'>>

/**
 * Offers of mesh nodes, filled after the mesh started (peer ids are known
 * then). Service factories get lazy views: `localFor(i)` and `finder()`.
 */
export class Offers {
  readonly byNode = new Map<number, LocalOffer[]>()
  readonly nodes: PlNode[] = []
  /** indexes of nodes the finder reports (default: every node with offers) */
  visible?: number[]
  /** capability names the finder pretends not to know (open-call tests) */
  hidden = new Set<string>()

  add (index: number, node: PlNode, input: OfferInput, module: ModuleSpec): LocalOffer {
    this.nodes[index] = node
    const descriptor: CapabilityDescriptor = { version: '1.0.0', io: { input: {}, output: {} }, limits: { wall_ms: 20_000, mem_mb: 256 }, ...input, provider: node.peerId }
    const offer = { cid: cidStringOf(descriptor), descriptor, module }
    this.byNode.set(index, [...(this.byNode.get(index) ?? []), offer])
    return offer
  }

  localFor (index: number): LocalCapabilities {
    return {
      localOffer: (name, version) => (this.byNode.get(index) ?? []).find(o => o.descriptor.name === name && (version == null || o.descriptor.version === version)),
      names: () => [...new Set((this.byNode.get(index) ?? []).map(o => o.descriptor.name))]
    }
  }

  finder (): CandidateFinder {
    return {
      find: async (query) => {
        const out: Candidate[] = []
        for (const [i, offers] of this.byNode) {
          if (this.visible != null && !this.visible.includes(i)) continue
          for (const o of offers) {
            if (o.descriptor.name !== query.name || this.hidden.has(o.descriptor.name)) continue
            out.push({ cid: o.cid, descriptor: o.descriptor, provider: o.descriptor.provider, addrs: this.nodes[i]?.addrs() ?? [] })
          }
        }
        return out
      }
    }
  }
}

export function step (id: string, capability: string, over: Partial<Step> = {}): Step {
  return { id, kind: 'call', capability: { name: capability }, parameters: {}, settings: {}, after: [], args: {}, limits: {}, ...over }
}

export function dagOf (steps: Step[], over: Partial<TaskDag> = {}): TaskDag {
  return {
    v: 1,
    name: 'test',
    source: { format: 'dsl' },
    mode: 'dag',
    inputs: {},
    constraints: {},
    policies: [],
    select: [] as SelectWeight[],
    globalSettings: {},
    globalParameters: {},
    steps: Object.fromEntries(steps.map(s => [s.id, s])),
    outputs: [steps[steps.length - 1].id],
    ...over
  }
}

export function ctxOf (dag: TaskDag, runId: string, key: string, over: Partial<StepContext> = {}): StepContext & { events: Array<[number, number | undefined, string | undefined]> } {
  const events: Array<[number, number | undefined, string | undefined]> = []
  return {
    runId,
    key,
    attempt: 1,
    limits: { wall_ms: 10_000, mem_mb: 256 },
    dag,
    modules: {},
    signal: new AbortController().signal,
    progress: (n, total, message) => { events.push([n, total, message]) },
    log: silentLogger(),
    addon: async () => undefined,
    ask: async () => 'yes',
    events,
    ...over
  }
}

let runSeq = 0
export function runId (prefix = 'run'): string {
  return `${prefix}-${process.pid}-${++runSeq}-${Date.now()}`
}

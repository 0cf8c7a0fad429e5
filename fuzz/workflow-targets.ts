/**
 * Fuzz targets of the workflow area: DSL text into the compiler, and ZIP
 * bytes into the bundle loader (listing, unpacking and loading). Every
 * refusal must be a typed PlError of the workflow/core areas; anything else
 * (a TypeError, a RangeError, a hang) is a finding.
 */
import { readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { packageRoot } from '../src/core/paths.js'
import { compileDsl, loadWorkflow, packBundle } from '../src/workflow/index.js'
import * as errors from '../src/workflow/errors.js'
import type { FuzzTarget } from './harness.js'

/** Every error class of src/workflow/errors.ts, plus the core ones the front ends pass through. */
const WORKFLOW_ERRORS = new Set([
  ...Object.keys(errors),
  'ModuleFolderError', 'InvalidEncodingError'
])

const enc = new TextEncoder()
const dec = new TextDecoder()

function fixtures (): string {
  return process.env.PL_FIXTURES ?? resolve(packageRoot(), 'test', 'fixtures')
}

const DSL_SEEDS = [
  'goal: G\ninputs:\n  doc: cid:doc-1\nplan:\n  - map: Fetch(doc)\n  - map: Each(x, k=1)\n  - reduce: Merge()\n  - join: Done()\n',
  'goal: G\nplan:\n  - step: A()\n    as: a\n  - when: a.score > 0.5 && !a.bad\n    then:\n      - step: B(a)\n    else:\n      - step: C(a.x, "s")\n  - loop:\n      max: 2\n      until: r.ok == true\n      do:\n        - step: R(a)\n          as: r\n',
  'goal: G\nconstraints:\n  deadline: PT1M\nselect:\n  optimize: [a:1, b:0.5]\npolicy:\n  require: [p]\nplan:\n  - step: A@1.0(1, 2.5, null)\n    limits: { timeout: 5s, memory: 64MB }\n'
]

async function dslSeeds (): Promise<Uint8Array[]> {
  const out = DSL_SEEDS.map(s => enc.encode(s))
  for (const f of [join('dsl', 'summarize.yaml'), join('dsl', 'route.yaml'), join('bad', 'unknown-step.yaml')]) {
    try { out.push(new Uint8Array(await readFile(join(fixtures(), f)))) } catch {}
  }
  return out
}

async function zipSeeds (): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for (const w of ['diamond-js', 'diamond-py']) {
    try { out.push(await packBundle(join(fixtures(), 'workflows', w))) } catch {}
  }
  try { out.push(new Uint8Array(await readFile(join(fixtures(), 'bad', 'zip-slip.zip')))) } catch {}
  if (out.length === 0) out.push(new Uint8Array([0x50, 0x4b, 5, 6, ...new Array(18).fill(0)]))
  return out
}

export async function workflowTargets (): Promise<FuzzTarget[]> {
  const dsl: FuzzTarget = {
    name: 'dsl',
    allowed: WORKFLOW_ERRORS,
    seeds: dslSeeds,
    run: (input) => { compileDsl(dec.decode(input), { file: 'fuzz.yaml' }) }
  }
  let n = 0
  const zip: FuzzTarget = {
    name: 'zip',
    allowed: WORKFLOW_ERRORS,
    seeds: zipSeeds,
    budgetMs: 5000,
    run: async (input) => {
      const file = join(tmpdir(), `pl-fuzz-${process.pid}-${n++}.zip`)
      await writeFile(file, input)
      try {
        const wf = await loadWorkflow(file, { maxUnpackedBytes: 8 * 2 ** 20, maxEntryBytes: 2 ** 20 })
        await wf.cleanup()
      } finally {
        await rm(file, { force: true })
      }
    }
  }
  return [dsl, zip]
}

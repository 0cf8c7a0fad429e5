/**
 * Hostile modules, JS and Python: each breaks something, fails with its own
 * typed error, and the same Executor runs a good module right afterwards
 * (the pool replaced the worker or process). JS modules run in both
 * isolations: the sandboxed runner process (the default) and the worker
 * thread pool (`sandbox.isolation: 'thread'`).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import type { ModuleSpec } from '../../src/core/index.js'
import type { StepLimits } from '../../src/workflow/index.js'
import type { JsIsolation, RunRecord, StepRecord } from '../../src/exec/types.js'
import { callStep, dagOf, harness, writeModule, type Harness } from './helpers.js'

let h: Harness
/** the executor whose JS modules run in worker threads */
let ht: Harness
let goodJs: ModuleSpec
let goodPy: ModuleSpec
let n = 0
const ISOLATIONS: JsIsolation[] = ['sandbox', 'thread']

before(async () => {
  h = await harness({ retry: { max: 2, backoff_ms: 5 } })
  ht = await harness({ retry: { max: 2, backoff_ms: 5 }, poolInit: { sandbox: { isolation: 'thread' } } })
  goodJs = await writeModule(h.root, 'goodjs', 'export default class { eval (p, d) { return { ok: d.x + 1 } } }')
  goodPy = await writeModule(h.root, 'goodpy', 'class Good:\n    def __init__(self, *a):\n        pass\n\n    def eval(self, p, d, c):\n        return {"ok": d["x"] + 1}\n', 'py')
})

after(async () => {
  await h.close()
  await ht.close()
})

async function runOne (spec: ModuleSpec, limits: StepLimits = {}, input: Record<string, unknown> = { x: 1 }, isolation: JsIsolation = 'sandbox'): Promise<{ run: RunRecord, step: StepRecord }> {
  const ex = isolation === 'thread' ? ht.executor : h.executor
  const dag = dagOf([callStep(spec, { limits })])
  const run = await ex.wait(await ex.submit(dag, input, { modules: { [spec.key]: spec } }))
  const { steps } = await ex.get(run.id)
  return { run, step: steps.find(s => s.key === spec.key) as StepRecord }
}

/** The next run on the same executor works, for both languages. */
async function nextRunWorks (isolation: JsIsolation = 'sandbox'): Promise<void> {
  for (const spec of [goodJs, goodPy]) {
    const { run } = await runOne(spec, { wall_ms: 10_000, mem_mb: 64 }, { x: 41 }, isolation)
    assert.equal(run.state, 'succeeded', `${spec.kind} module after a hostile one: ${JSON.stringify(run.error)}`)
    assert.deepEqual(await (isolation === 'thread' ? ht : h).executor.output(run), { ok: 42 })
  }
}

async function hostile (kind: 'js' | 'py', source: string): Promise<ModuleSpec> {
  return await writeModule(h.root, `bad${n++}`, source, kind)
}

const py = (body: string, imports = ''): string => `${imports}\nclass Bad:\n    def __init__(self, *a):\n        pass\n\n    def eval(self, p, d, c):\n${body.split('\n').map(l => '        ' + l).join('\n')}\n`

for (const iso of ISOLATIONS) {
  test(`JS infinite loop (${iso}) is killed at the wall limit with WallTimeExceededError naming limit and measured value`, async () => {
    const { run, step } = await runOne(await hostile('js', 'export default class { eval () { for (;;) {} } }'), { wall_ms: 300 }, undefined, iso)
    assert.equal(run.state, 'failed')
    assert.equal(run.error?.name, 'WallTimeExceededError')
    assert.match(run.error?.message ?? '', /wall-time limit of 300 ms \(measured \d+ ms\)/)
    assert.equal(run.error?.details?.limit, 'wall_ms')
    assert.ok(Number(run.error?.details?.measured) >= 300)
    assert.equal(step.attempts, 1, 'limit breaches are not retried')
    assert.ok(step.usage != null && step.usage.wall_ms >= 300, 'usage journaled for the failed step')
    await nextRunWorks(iso)
  })

  test(`JS heap allocation (${iso}) past mem_mb fails with MemoryLimitExceededError`, async () => {
    const { run } = await runOne(await hostile('js', 'export default class { eval () { const a = []; for (;;) a.push(new Array(1e5).fill({ x: Math.random() })) } }'), { mem_mb: 32, wall_ms: 20_000 }, undefined, iso)
    assert.equal(run.error?.name, 'MemoryLimitExceededError')
    assert.match(run.error?.message ?? '', /JS heap limit of 32 MiB/)
    assert.equal(run.error?.details?.limit, 'mem_mb')
    await nextRunWorks(iso)
  })

  test(`JS CPU limit (${iso}) is enforced by the watchdog`, async () => {
    const { run } = await runOne(await hostile('js', 'export default class { eval () { let x = 0; for (;;) x++ } }'), { cpu_ms: 200, wall_ms: 20_000 }, undefined, iso)
    assert.equal(run.error?.name, 'CpuTimeExceededError')
    assert.ok(Number(run.error?.details?.measured) >= 200)
    await nextRunWorks(iso)
  })

  test(`process.exit() in a JS module (${iso}) fails with ModuleCrashedError and the worker or runner is replaced`, async () => {
    const { run } = await runOne(await hostile('js', 'export default class { eval () { process.exit(7) } }'), undefined, undefined, iso)
    assert.equal(run.error?.name, 'ModuleCrashedError')
    assert.match(run.error?.message ?? '', /code:? 7/)
    await nextRunWorks(iso)
  })
}

test('Python infinite loop is killed at the wall limit', async () => {
  const { run, step } = await runOne(await hostile('py', py('while True:\n    pass')), { wall_ms: 400 })
  assert.equal(run.error?.name, 'WallTimeExceededError')
  assert.equal(run.error?.details?.limit_value, 400)
  assert.equal(step.attempts, 1)
  await nextRunWorks()
})

test('Python allocation past mem_mb fails with MemoryLimitExceededError (RLIMIT_AS → MemoryError)', async () => {
  const { run } = await runOne(await hostile('py', py('blocks = []\nwhile True:\n    blocks.append(bytearray(8 * 1024 * 1024))')), { mem_mb: 64, wall_ms: 20_000 })
  assert.equal(run.error?.name, 'MemoryLimitExceededError')
  assert.match(run.error?.message ?? '', /address-space limit of 64 MiB \(measured \d+ MiB\)/)
  assert.ok(Number(run.error?.details?.measured) >= 40)
  await nextRunWorks()
})

test('Python CPU limit: a busy Python loop fails with CpuTimeExceededError', async () => {
  const { run } = await runOne(await hostile('py', py('x = 0\nwhile True:\n    x += 1')), { cpu_ms: 300, wall_ms: 20_000 })
  assert.equal(run.error?.name, 'CpuTimeExceededError')
  assert.equal(run.error?.details?.limit, 'cpu_ms')
  assert.ok(Number(run.error?.details?.measured) >= 300)
  await nextRunWorks()
})

test('Python CPU limit in C code (no bytecode boundary) is enforced by RLIMIT_CPU', async () => {
  // one long call into OpenSSL: Python signal handlers only run after it returns
  const { run } = await runOne(await hostile('py', py('hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 2 ** 31 - 1)', 'import hashlib')), { cpu_ms: 200, wall_ms: 30_000 })
  assert.equal(run.error?.name, 'CpuTimeExceededError')
  assert.match(run.error?.message ?? '', /RLIMIT_CPU/)
  await nextRunWorks()
})

for (const kind of ['js', 'py'] as const) {
  test(`a ${kind} module that throws fails the run with its message and stack`, async () => {
    const spec = await hostile(kind, kind === 'js'
      ? 'export default class { eval () { throw new RangeError("the number is too big") } }'
      : py('raise ValueError("the number is too big")'))
    const { run, step } = await runOne(spec)
    assert.equal(run.state, 'failed')
    assert.equal(run.error?.name, 'ModuleError')
    assert.equal(run.error?.message, 'the number is too big')
    assert.equal(run.error?.details?.error, kind === 'js' ? 'RangeError' : 'ValueError')
    assert.match(run.error?.stack ?? '', kind === 'js' ? /function\.mjs/ : /function\.py/)
    assert.equal(step.state, 'failed')
    assert.equal(step.attempts, 1, 'errors not marked retryable are not retried')
    await nextRunWorks()
  })

  test(`a ${kind} module returning a non-JSON value fails with InvalidOutputError`, async () => {
    const spec = await hostile(kind, kind === 'js'
      ? 'export default class { eval () { return { when: 1n } } }'
      : py('return {"s": {1, 2}}'))
    const { run } = await runOne(spec)
    assert.equal(run.error?.name, 'InvalidOutputError')
    assert.match(run.error?.message ?? '', kind === 'js' ? /\$\.when is a BigInt/ : /\$\.s is a set/)
    await nextRunWorks()
  })
}

test('os._exit() in a Python module fails with ModuleCrashedError', async () => {
  const { run } = await runOne(await hostile('py', py('os._exit(3)', 'import os')))
  assert.equal(run.error?.name, 'ModuleCrashedError')
  assert.match(run.error?.message ?? '', /exit code 3/)
  await nextRunWorks()
})

test('a Python module printing garbage to stdout (and to fd 1 directly) does not break the protocol', async () => {
  const spec = await hostile('py', py('print("{not json at all")\nsys.stdout.flush()\nos.write(1, b"\\x00\\xffgarbage\\n")\nprint("more", file=sys.stderr)\nreturn {"ok": d["x"] * 2}', 'import os, sys'))
  const { run } = await runOne(spec, {}, { x: 21 })
  assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
  assert.deepEqual(await h.executor.output(run), { ok: 42 })
  // and the same process serves the module again
  const again = await runOne(spec, {}, { x: 5 })
  assert.deepEqual(await h.executor.output(again.run), { ok: 10 })
})

test('a missing module folder fails with ModuleLoadError for both languages', async () => {
  for (const kind of ['js', 'py'] as const) {
    const spec = await hostile(kind, kind === 'js' ? 'export default class { eval () { return 1 } }' : py('return 1'))
    await rm(spec.dir, { recursive: true })
    const { run } = await runOne(spec)
    assert.equal(run.error?.name, 'ModuleLoadError')
    assert.match(run.error?.message ?? '', /does not exist/)
  }
  await nextRunWorks()
})

test('a JS module with a syntax error and a Python module with no class fail with ModuleLoadError', async () => {
  const js = await runOne(await hostile('js', 'export default class { eval ( { }'))
  assert.equal(js.run.error?.name, 'ModuleLoadError')
  const pyNoEval = await runOne(await hostile('py', 'class NoEval:\n    def __init__(self, *a):\n        pass\n'))
  assert.equal(pyNoEval.run.error?.name, 'ModuleLoadError')
  assert.match(pyNoEval.run.error?.message ?? '', /no eval\(\) method/)
  await nextRunWorks()
})

test('a local step output over maxOutputBytes fails with InvalidOutputError naming size and limit', async () => {
  const small = await harness({ maxOutputBytes: 1024 })
  try {
    const big = await writeModule(small.root, 'big', 'export default class { eval (p, d) { return { s: "x".repeat(d.n) } } }')
    const dag = dagOf([callStep(big)])
    const failed = await small.executor.wait(await small.executor.submit(dag, { n: 5000 }, { modules: { big } }))
    assert.equal(failed.state, 'failed')
    assert.equal(failed.error?.name, 'InvalidOutputError')
    assert.match(failed.error?.message ?? '', /returned \d+ bytes of output, over this node's limit of 1024 bytes/)
    assert.equal(failed.error?.details?.limit_value, 1024)
    assert.ok(Number(failed.error?.details?.measured) > 5000)
    const ok = await small.executor.wait(await small.executor.submit(dag, { n: 10 }, { modules: { big } }))
    assert.equal(ok.state, 'succeeded', JSON.stringify(ok.error))
  } finally {
    await small.close()
  }
})

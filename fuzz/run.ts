/**
 * `npm run fuzz [-- --seconds 20 --seed 1 --only name]`: runs each target for
 * a bounded time; exits 1 if any finding (crash, hang, memory growth).
 */
import { allTargets } from './targets.js'
import { fuzz } from './harness.js'
import { specTarget } from './spec-targets.js'

const args = process.argv.slice(2)
const arg = (name: string, def: string): string => args.includes(name) ? args[args.indexOf(name) + 1] : def
const seconds = Number(arg('--seconds', '20'))
const seed = Number(arg('--seed', String(Date.now() % 100000)))
const only = args.includes('--only') ? arg('--only', '') : undefined

let findings = 0
process.stdout.write(`fuzz: ${seconds}s per target, seed ${seed} (replay with --seed ${seed})\n`)
// the spec target runs minutes per input (tsc, python3, go): npm run fuzz only, not the smoke test's allTargets
for (const target of [...await allTargets(), specTarget()]) {
  if (only != null && target.name !== only) continue
  const res = await fuzz(target, { seconds, seed })
  findings += res.findings.length
  process.stdout.write(`${target.name.padEnd(10)} ${String(res.execs).padStart(8)} execs  heap ${res.heapGrowthMiB.toFixed(1)} MiB  ${res.findings.length === 0 ? 'no findings' : `${res.findings.length} FINDINGS`}\n`)
  for (const f of res.findings) process.stdout.write(`  ${f.kind}: ${f.message} (${f.file})\n`)
}
process.exit(findings > 0 ? 1 : 0)

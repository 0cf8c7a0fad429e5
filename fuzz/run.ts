/**
 * `npm run fuzz [-- --seconds 20 --execs N --seed 1 --only name]`: runs each
 * target for a bounded time, or a bounded number of inputs with `--execs`
 * (then `--seconds` applies only when given too); exits 1 if any finding
 * (crash, hang, memory growth).
 */
import { allTargets } from './targets.js'
import { fuzz } from './harness.js'
import { specTarget } from './spec-targets.js'

const args = process.argv.slice(2)
const arg = (name: string, def: string): string => args.includes(name) ? args[args.indexOf(name) + 1] : def
const execs = args.includes('--execs') ? Number(arg('--execs', '')) : undefined
const seconds = args.includes('--seconds') || execs == null ? Number(arg('--seconds', '20')) : undefined
if (execs != null && !(Number.isInteger(execs) && execs > 0)) throw new TypeError('--execs must be a positive integer')
if (seconds != null && !(seconds > 0)) throw new TypeError('--seconds must be > 0')
const seed = Number(arg('--seed', String(Date.now() % 100000)))
const only = args.includes('--only') ? arg('--only', '') : undefined

let findings = 0
const bound = [execs != null ? `${execs} inputs` : '', seconds != null ? `${seconds}s` : ''].filter(b => b !== '').join(' or ')
process.stdout.write(`fuzz: ${bound} per target, seed ${seed} (replay with --seed ${seed}${execs != null ? ` --execs ${execs}` : ''})\n`)
// the spec target runs minutes per input (tsc, python3, go): npm run fuzz only, not the smoke test's allTargets
for (const target of [...await allTargets(), specTarget()]) {
  if (only != null && target.name !== only) continue
  const res = await fuzz(target, { seconds, execs, seed })
  findings += res.findings.length
  process.stdout.write(`${target.name.padEnd(10)} ${String(res.execs).padStart(8)} execs  heap ${res.heapGrowthMiB.toFixed(1)} MiB  ${res.findings.length === 0 ? 'no findings' : `${res.findings.length} FINDINGS`}\n`)
  for (const f of res.findings) process.stdout.write(`  ${f.kind}: ${f.message} (${f.file})\n`)
}
process.exit(findings > 0 ? 1 : 0)

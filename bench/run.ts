/**
 * `npm run bench [-- --only name] [--json]`: runs every benchmark module's
 * benches and prints a table (and JSON to bench/results/<date>.json).
 */
import { mkdir, writeFile, readdir } from 'node:fs/promises'
import { join, dirname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { cpus, totalmem } from 'node:os'
import { runBench, formatTable, type Bench, type Row } from './harness.js'

const args = process.argv.slice(2)
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined
const json = args.includes('--json')

const here = dirname(fileURLToPath(import.meta.url))
const files = (await readdir(here)).filter(f => f.endsWith('.bench.js')).sort()
const rows: Row[] = []
for (const file of files) {
  const mod = await import(pathToFileURL(join(here, file)).href) as { benches?: Bench[] | (() => Promise<Bench[]>) }
  const list = typeof mod.benches === 'function' ? await mod.benches() : mod.benches ?? []
  for (const b of list) {
    if (only != null && !b.name.includes(only) && !file.includes(only)) continue
    process.stderr.write(`running ${b.name} (${file})\n`)
    try {
      rows.push(...await runBench(b, (l) => process.stderr.write(l + '\n')))
    } catch (err) {
      process.stderr.write(`  ${b.name} failed: ${(err as Error).stack ?? String(err)}\n`)
      rows.push({ bench: b.name, figure: `FAILED: ${(err as Error).message}`, unit: '', p50: NaN, p95: NaN })
    }
  }
}
const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, date: new Date().toISOString() }
const out = join(process.cwd(), 'bench', 'results')
await mkdir(out, { recursive: true })
await writeFile(join(out, `${machine.date.replace(/[:.]/g, '-')}.json`), JSON.stringify({ machine, rows }, null, 2))
if (json) process.stdout.write(JSON.stringify({ machine, rows }, null, 2) + '\n')
else process.stdout.write(`machine: ${machine.cpus} × ${String(machine.cpu)}, ${machine.memGiB} GiB, node ${machine.node}\n\n${formatTable(rows)}\n`)
process.exit(rows.some(r => r.figure.startsWith('FAILED')) ? 1 : 0)

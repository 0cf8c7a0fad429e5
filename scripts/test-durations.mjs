// A node:test reporter that sums the time of each test file's top-level
// tests and writes the slowest files first (scripts/test.mjs sends it to
// dist/test-durations.txt): where to look when the suite gets slow.
export default async function * durations (source) {
  const perFile = new Map()
  for await (const event of source) {
    if ((event.type !== 'test:pass' && event.type !== 'test:fail') || event.data.nesting !== 0 || event.data.file == null) continue
    const f = perFile.get(event.data.file) ?? { ms: 0, tests: 0, failed: 0 }
    f.ms += event.data.details?.duration_ms ?? 0
    f.tests++
    if (event.type === 'test:fail') f.failed++
    perFile.set(event.data.file, f)
  }
  const rows = [...perFile.entries()].sort((a, b) => b[1].ms - a[1].ms)
  const total = rows.reduce((s, [, f]) => s + f.ms, 0)
  yield `# test time by file, slowest first (sum of top-level tests: ${(total / 1000).toFixed(0)} s)\n`
  for (const [file, f] of rows) yield `${(f.ms / 1000).toFixed(1).padStart(7)} s  ${String(f.tests).padStart(3)} tests${f.failed > 0 ? ` (${f.failed} failed)` : ''}  ${file.replace(process.cwd() + '/', '')}\n`
}

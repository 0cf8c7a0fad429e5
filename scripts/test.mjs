#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's built-in
// runner. `node scripts/test.mjs core net` runs only files under those folders.
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { spawn } from 'node:child_process'

const outDir = process.env.PL_TEST_OUTDIR ?? 'dist'
const root = join(outDir, 'test')
const filters = process.argv.slice(2)

function walk (dir) {
  const out = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...walk(p))
    else if (name.endsWith('.test.js')) out.push(p)
  }
  return out
}

// filters match the path below the test folder (not the output folder's own name: build/exec would match everything)
const files = walk(root).filter(f => filters.length === 0 || filters.some(x => ('/' + relative(root, f)).includes(x.replace(/^\/?test\//, '/')))).sort()
if (files.length === 0) {
  console.error(`no test files under ${root}${filters.length > 0 ? ` matching ${filters.join(', ')}` : ''}`)
  process.exit(1)
}
// --test-force-exit: a file whose tests all ended exits even if something it started still holds the event
// loop (a leaked runner or socket would otherwise hang the whole run until CI's time limit)
// the TAP summary goes to stdout (CI reads it); time per file goes to <outDir>/test-durations.txt
const args = ['--test', '--test-force-exit', '--test-reporter=tap', '--test-reporter-destination=stdout',
  `--test-reporter=${new URL('./test-durations.mjs', import.meta.url).href}`, `--test-reporter-destination=${join(outDir, 'test-durations.txt')}`, ...files]
if (process.env.PL_TEST_CONCURRENCY != null) args.unshift(`--test-concurrency=${process.env.PL_TEST_CONCURRENCY}`)
// the tests spawn the bundled daemon (outDir/bundle): made here when missing or older than the tsc output
const { bundleState, buildBundle } = await import('./build-bundle.mjs')
const state = bundleState(outDir)
if (state !== 'fresh') {
  const r = await buildBundle(outDir)
  console.log(`# bundle ${state}: rebuilt ${r.out} from ${join(outDir, 'src')} (${r.modules} modules)`)
}
const child = spawn(process.execPath, args, { stdio: 'inherit' })
child.on('exit', (code, signal) => {
  // the ten slowest files, as TAP comments after the summary
  try {
    const lines = readFileSync(join(outDir, 'test-durations.txt'), 'utf8').split('\n').filter(l => l !== '').slice(0, 11)
    for (const l of lines) console.log(l.startsWith('#') ? l : `# ${l}`)
  } catch {}
  process.exit(code ?? (signal != null ? 1 : 0))
})

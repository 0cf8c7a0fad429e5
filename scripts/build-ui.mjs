#!/usr/bin/env node
// Builds the web console (ui/) into dist/ui with esbuild: one JS and one CSS
// bundle with content-hashed names under assets/ (served immutable) and an
// index.html naming them (served no-cache). Fails when the initial load
// passes the budget (docs/CONSOLE.md).
import { build } from 'esbuild'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'

export const BUDGET_BYTES = 300 * 1024
const out = join(process.env.PL_UI_OUTDIR ?? 'dist', 'ui')
await rm(out, { recursive: true, force: true })
await mkdir(join(out, 'assets'), { recursive: true })
const result = await build({
  entryPoints: ['ui/src/main.ts'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning'
})
const files = Object.entries(result.metafile.outputs).map(([path, o]) => ({ name: basename(path), bytes: o.bytes }))
const js = files.find(f => f.name.endsWith('.js'))
const css = files.find(f => f.name.endsWith('.css'))
if (js == null || css == null) throw new Error('esbuild produced no JS or no CSS bundle')
await writeFile(join(out, 'index.html'), `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pl console</title>
<link rel="stylesheet" href="/ui/assets/${css.name}">
<script type="module" src="/ui/assets/${js.name}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The pl console needs JavaScript.</noscript>
</body>
</html>
`)
const total = js.bytes + css.bytes
const report = { js: js.name, jsBytes: js.bytes, css: css.name, cssBytes: css.bytes, totalBytes: total, budgetBytes: BUDGET_BYTES }
await writeFile(join(out, 'build.json'), JSON.stringify(report, null, 2) + '\n')
process.stdout.write(`console: ${js.name} ${(js.bytes / 1024).toFixed(1)} KB + ${css.name} ${(css.bytes / 1024).toFixed(1)} KB = ${(total / 1024).toFixed(1)} KB (budget ${BUDGET_BYTES / 1024} KB) in ${out}\n`)
if (total > BUDGET_BYTES) {
  process.stderr.write(`console initial load ${total} bytes is over the ${BUDGET_BYTES} byte budget\n`)
  process.exit(1)
}

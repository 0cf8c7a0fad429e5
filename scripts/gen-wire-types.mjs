#!/usr/bin/env node
// Writes src/wire/types.gen.ts, the TypeScript types of protocols/schemas
// (src/wire/generate.ts, docs/ARCHITECTURE.md "Wire types"). Runs before tsc
// in `npm run build`: tsc cannot compile the generator before the types it
// generates exist, so esbuild bundles the generator from its TypeScript
// source (no type check; npm packages stay external) and node runs the bundle.
// The file is written only when its content changes, so tsc's view of it is
// stable. `--check` writes nothing and fails when the file is stale.
import { build } from 'esbuild'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const check = process.argv.includes('--check')
// inside the package so the bundle's bare imports (ajv, multiformats...) resolve from node_modules
const outDir = join(root, 'node_modules', '.cache', 'pl-wire-types')
const outfile = join(outDir, `generate-${process.pid}.mjs`)
await mkdir(outDir, { recursive: true })
try {
  await build({
    entryPoints: [join(root, 'src', 'wire', 'generate.ts')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    packages: 'external',
    outfile,
    logLevel: 'warning'
  })
  const { generateWireTypes, WIRE_TYPES_FILE } = await import(pathToFileURL(outfile).href)
  const { text, types } = await generateWireTypes(join(root, 'protocols', 'schemas'))
  const target = join(root, WIRE_TYPES_FILE)
  const current = await readFile(target, 'utf8').catch(() => undefined)
  if (current === text) {
    process.stdout.write(`wire types: ${WIRE_TYPES_FILE} is current (${types.size} schemas)\n`)
  } else if (check) {
    process.stderr.write(`wire types: ${WIRE_TYPES_FILE} is stale; run npm run build\n`)
    process.exitCode = 1
  } else {
    await writeFile(target, text)
    process.stdout.write(`wire types: wrote ${WIRE_TYPES_FILE} (${types.size} schemas)\n`)
  }
} finally {
  await rm(outfile, { force: true })
}

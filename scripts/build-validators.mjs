// Build step: writes the protocol schemas' validators as ajv standalone code
// (dist/src/spec/validators.generated.cjs), so a node loads them instead of
// compiling every schema at start (src/spec/precompiled.ts). Runs after tsc.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { emitPrecompiled } = await import(join(root, 'dist/src/spec/precompile-emit.js'))
const { PRECOMPILED_FILE } = await import(join(root, 'dist/src/spec/precompiled.js'))
const dir = join(root, 'protocols', 'schemas')
const texts = readdirSync(dir).filter(f => f.endsWith('.json')).sort().map(f => readFileSync(join(dir, f), 'utf8'))
const docs = texts.map(t => JSON.parse(t))
const out = join(root, 'dist/src/spec', PRECOMPILED_FILE)
writeFileSync(out, emitPrecompiled(docs, texts))
process.stdout.write(`validators: ${docs.length} protocol schemas precompiled into ${out.slice(root.length + 1)}\n`)

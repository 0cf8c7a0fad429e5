/**
 * The layers, checked on the source text (docs/ARCHITECTURE.md "Wiring"):
 * core/ is the bottom layer and imports no other area of src/ but the
 * generated wire types (it names what it needs of spec/ as an interface,
 * e.g. EnvelopeSchemas); the composition
 * root (src/node.ts, src/services.ts) is below the CLI and never imports cli/.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const SRC = join(process.cwd(), 'src')

function walk (dir: string): string[] {
  return readdirSync(dir).flatMap(n => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : []
  })
}

/** The src-relative targets of a file's relative imports, re-exports and dynamic imports (`core/clock.ts`). */
function importsOf (file: string, text = readFileSync(file, 'utf8')): string[] {
  const specs = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm)].map(m => m[1])
  return specs.map(s => relative(SRC, resolve(dirname(file), s)).split('\\').join('/'))
}

/** `file → target` for every import of `files` whose target starts with one of `forbidden`. */
function violations (files: string[], forbidden: (target: string) => boolean): string[] {
  return files.flatMap(f => importsOf(f).filter(forbidden).map(t => `${relative(SRC, f)} → ${t}`))
}

/** the generated wire types (types only) are below core: core may name them */
const WIRE_TYPES = ['wire/index.js', 'wire/types.gen.js']

test('core/ imports no other area of src/ but the wire types (no core → spec/)', () => {
  const core = walk(join(SRC, 'core'))
  assert.ok(core.length > 5, 'src/core has files')
  assert.deepEqual(violations(core, t => !t.startsWith('core/') && !WIRE_TYPES.includes(t)), [])
})

test('the wire types import nothing else of src/ (the generator aside)', () => {
  const wire = WIRE_TYPES.map(t => join(SRC, t.replace(/\.js$/, '.ts')))
  assert.deepEqual(violations(wire, t => !WIRE_TYPES.includes(t)), [])
})

test('the composition root (src/node.ts, src/services.ts) imports nothing from cli/', () => {
  const root = ['node.ts', 'services.ts'].map(n => join(SRC, n))
  assert.deepEqual(violations(root, t => t.startsWith('cli/')), [])
})

test('the import scan sees static, re-exported and dynamic imports (so the checks above can fail)', () => {
  const file = join(SRC, 'core', 'x.ts')
  const text = [
    "import type { SchemaRegistry } from '../spec/registry.js'",
    "export { ConfigError } from '../cli/config.js'",
    "const m = await import('../cli/pl.js')",
    "import './clock.js'",
    "import { z } from 'zod'"
  ].join('\n')
  assert.deepEqual(importsOf(file, text), ['spec/registry.js', 'cli/config.js', 'cli/pl.js', 'core/clock.js'])
})

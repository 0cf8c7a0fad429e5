/**
 * The layers, checked on the source text (docs/ARCHITECTURE.md "Wiring"):
 * core/ is the bottom layer and imports no other area of src/ but the
 * generated wire types (it names what it needs of spec/ as an interface,
 * e.g. EnvelopeSchemas); the composition
 * root (src/node.ts, src/services.ts) is below the CLI and never imports cli/.
 *
 * And the surfaces (docs/ARCHITECTURE.md "Areas and their surfaces"): another
 * area's files are imported only through its index.ts or an entry declared in
 * test/lint/surfaces.json; a light entry imports (at load time) only light
 * entries of other areas.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const ROOT = process.cwd()
const SRC = join(ROOT, 'src')

function walk (dir: string): string[] {
  return readdirSync(dir).flatMap(n => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : []
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

interface Surfaces {
  /** area → light entries (paths inside the area folder) */
  light: Record<string, string[]>
  /** area → sub-surfaces (a `*` matches one file name) */
  surfaces: Record<string, string[]>
}
const SURFACES = JSON.parse(readFileSync(join(ROOT, 'test', 'lint', 'surfaces.json'), 'utf8')) as Surfaces

/** `core/clock.js` → `core` (null for the root files: node.ts, services.ts, offers.ts) */
function areaOf (target: string): string | null {
  const parts = target.split('/')
  return parts.length === 1 ? null : parts[0]
}
const asTs = (target: string): string => target.replace(/\.js$/, '.ts')
const matches = (entry: string, file: string): boolean => entry.includes('*')
  ? new RegExp('^' + entry.split('*').map(p => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$').test(file)
  : entry === file
const isLight = (target: string): boolean => {
  const area = areaOf(target)
  return area != null && (SURFACES.light[area] ?? []).some(e => matches(`${area}/${e}`, asTs(target)))
}
/** a file another area may import: the root files, an area's index.ts, its light entries and sub-surfaces */
function isEntry (target: string): boolean {
  const area = areaOf(target)
  if (area == null) return true
  const file = asTs(target)
  return file === `${area}/index.ts` || isLight(target) || (SURFACES.surfaces[area] ?? []).some(e => matches(`${area}/${e}`, file))
}
/** the area whose internals a file may import: src/<area>/… and test/<area>/… (undefined: none) */
function ownerOf (file: string): string | null | undefined {
  const parts = relative(ROOT, file).split('\\').join('/').split('/')
  if (parts[0] === 'src') return parts.length === 2 ? null : parts[1]
  if (parts[0] === 'test' && parts.length > 2 && existsSync(join(SRC, parts[1]))) return parts[1]
  return undefined
}
/** what to import instead of `target`: a sentence for the failure message */
function instead (target: string): string {
  const area = areaOf(target) as string
  const light = (SURFACES.light[area] ?? []).map(e => `${area}/${e}`)
  const subs = (SURFACES.surfaces[area] ?? []).map(e => `${area}/${e}`).filter(e => asTs(target).startsWith(dirname(e) + '/'))
  return `import it from ${[...subs, `${area}/index.ts`].join(' or ')}${light.length ? ` (or a light entry: ${light.join(', ')})` : ''}; ` +
    `if the name is not there, export it from ${area}/index.ts or declare an entry in test/lint/surfaces.json`
}
/** one message per import of another area's internals */
function surfaceViolations (file: string, text?: string): string[] {
  const owner = ownerOf(file)
  return importsOf(file, text)
    .filter(t => !t.startsWith('..') && areaOf(t) != null && areaOf(t) !== owner && !isEntry(t))
    .map(t => `${relative(ROOT, file)} imports ${asTs(t)}: ${instead(t)}`)
}

test('another area is imported through its index.ts or a declared entry (src/, test/, bench/, fuzz/)', () => {
  const files = ['src', 'test', 'bench', 'fuzz'].flatMap(d => walk(join(ROOT, d)))
    .filter(f => !/^test[\\/](fixtures|golden)[\\/]/.test(relative(ROOT, f)))
  assert.ok(files.length > 300, 'the walk sees the sources')
  assert.deepEqual(files.flatMap(f => surfaceViolations(f)), [])
})

test('every area has an index.ts and every declared entry exists', () => {
  const areas = readdirSync(SRC).filter(n => statSync(join(SRC, n)).isDirectory())
  assert.deepEqual(areas.filter(a => !existsSync(join(SRC, a, 'index.ts'))), [])
  const declared = Object.entries({ ...SURFACES.light }).concat(Object.entries(SURFACES.surfaces))
    .flatMap(([area, entries]) => entries.filter(e => !e.includes('*')).map(e => `${area}/${e}`))
  assert.deepEqual(declared.filter(e => !existsSync(join(SRC, e))), [])
})

/** the src-relative targets of a file's imports that run at load time (no `import type`, no all-`type` braces, no dynamic import) */
function loadImportsOf (file: string, text = readFileSync(file, 'utf8')): string[] {
  const specs: string[] = []
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?([\w\s{},*$]*?)\bfrom\s+'(\.{1,2}\/[^']+)'|^\s*import\s+'(\.{1,2}\/[^']+)'/gm)) {
    if (m[4] != null) { specs.push(m[4]); continue } // import for its effect
    if (m[1] != null) continue // import type / export type
    const braces = /^\{([^}]*)\}$/.exec(m[2].trim())
    if (braces != null && braces[1].split(',').map(s => s.trim()).filter(Boolean).every(s => s.startsWith('type '))) continue
    specs.push(m[3])
  }
  return specs.map(s => relative(SRC, resolve(dirname(file), s)).split('\\').join('/'))
}

test('a light entry loads only light entries of other areas (so a cold path stays light)', () => {
  const light = Object.entries(SURFACES.light).flatMap(([area, entries]) => entries.map(e => `${area}/${e}`))
  assert.ok(light.length > 20)
  const heavy = light.flatMap(entry => loadImportsOf(join(SRC, entry))
    .filter(t => areaOf(t) !== areaOf(entry) && areaOf(t) != null && !isLight(t))
    .map(t => `light entry ${entry} loads ${asTs(t)}: import a light entry instead, or import it lazily (await import) or as a type`))
  assert.deepEqual(heavy, [])
})

test('the surface check names the file and what to import instead (so the checks above can fail)', () => {
  const file = join(SRC, 'gateway', 'x.ts')
  const text = [
    "import { CfpRound } from '../negotiation/round.js'",
    "import type { Bid } from '../negotiation/types.js'",
    "import { Provider } from '../negotiation/index.js'",
    "import { compileSchemas } from '../spec/compiler/compile.js'",
    "const { ReceiptStore } = await import('../receipts/store.js')",
    "import { GATEWAY_PORT } from './constants.js'"
  ].join('\n')
  assert.deepEqual(surfaceViolations(file, text), [
    'src/gateway/x.ts imports negotiation/round.ts: import it from negotiation/index.ts (or a light entry: negotiation/errors.ts, negotiation/constants.ts, negotiation/types.ts); ' +
      'if the name is not there, export it from negotiation/index.ts or declare an entry in test/lint/surfaces.json',
    'src/gateway/x.ts imports spec/compiler/compile.ts: import it from spec/compiler/index.ts or spec/index.ts (or a light entry: spec/compiler/errors.ts, spec/compiler/capability.ts); ' +
      'if the name is not there, export it from spec/index.ts or declare an entry in test/lint/surfaces.json',
    'src/gateway/x.ts imports receipts/store.ts: import it from receipts/index.ts (or a light entry: receipts/errors.ts); ' +
      'if the name is not there, export it from receipts/index.ts or declare an entry in test/lint/surfaces.json'
  ])
  // a test of an area may import its internals; a test of another area may not
  // (three levels deep, so that this file's own scan does not see the samples)
  assert.deepEqual(surfaceViolations(join(ROOT, 'test', 'negotiation', 'a', 'x.test.ts'), "import { CfpRound } from '../../../src/negotiation/round.js'"), [])
  assert.equal(surfaceViolations(join(ROOT, 'test', 'gateway', 'a', 'x.test.ts'), "import { CfpRound } from '../../../src/negotiation/round.js'").length, 1)
  // load-time imports: type-only ones do not count
  assert.deepEqual(loadImportsOf(file, [
    "import type { A } from '../exec/run.js'",
    "import { type B, type C } from '../exec/pool.js'",
    "import { D, type E } from '../exec/executor.js'",
    "export { F } from '../exec/journal.js'",
    "import '../cli/require-node.js'"
  ].join('\n')), ['exec/executor.js', 'exec/journal.js', 'cli/require-node.js'])
})

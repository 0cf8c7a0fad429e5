/**
 * The wire types (src/wire) are generated from protocols/schemas: the
 * committed file must be what the generator writes now, every schema must
 * have its type, and the derived names (Limits, LIMIT_KEYS) must say what the
 * schemas say.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { packageRoot } from '../../src/core/paths.js'
import { generateWireTypes, WIRE_TYPES_FILE } from '../../src/wire/generate.js'
import { LIMIT_KEYS } from '../../src/wire/index.js'

const ROOT = packageRoot()
const SCHEMAS = join(ROOT, 'protocols', 'schemas')

async function schemaDocs (): Promise<Array<Record<string, any>>> {
  const names = (await readdir(SCHEMAS)).filter(n => n.endsWith('.json')).sort()
  return await Promise.all(names.map(async n => JSON.parse(await readFile(join(SCHEMAS, n), 'utf8')) as Record<string, any>))
}

test(`${WIRE_TYPES_FILE} is what the generator writes from protocols/schemas now`, async () => {
  const { text } = await generateWireTypes(SCHEMAS)
  const committed = await readFile(join(ROOT, WIRE_TYPES_FILE), 'utf8')
  assert.ok(committed === text, `${WIRE_TYPES_FILE} is stale or was edited by hand: run npm run build (scripts/gen-wire-types.mjs) and commit the result`)
  assert.match(committed, /^\/\/ Generated from protocols\/schemas.*do not edit\.\n\/\/ Regenerate: npm run build/)
})

test('every protocols/schemas document has its generated type', async () => {
  const docs = await schemaDocs()
  const { text, types } = await generateWireTypes(SCHEMAS)
  assert.deepEqual([...types.keys()].sort(), docs.map(d => String(d.title)).sort())
  for (const [title, name] of types) {
    assert.equal(name, title.replace(/\.v(\d+)$/, 'V$1'), `${title} is generated as ${name}`)
    assert.match(text, new RegExp(`^export (interface|type) ${name}\\b`, 'm'), `${title}: no ${name} in ${WIRE_TYPES_FILE}`)
  }
})

test('the build script finds the committed file current (--check)', async () => {
  const child = spawn(process.execPath, [join(ROOT, 'scripts', 'gen-wire-types.mjs'), '--check'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (b: Buffer) => { out += b.toString() })
  child.stderr.on('data', (b: Buffer) => { out += b.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  assert.equal(code, 0, out)
  assert.match(out, /is current \(\d+ schemas\)/)
})

test('LIMIT_KEYS are the limits every schema declares, and each schema declares the same limits', async () => {
  const withLimits = (await schemaDocs()).filter(d => d.properties?.limits != null)
  assert.deepEqual(withLimits.map(d => d.title).sort(), ['Award.v1', 'Bid.v1', 'CallForProposal.v1', 'Capability.v1', 'Receipt.v1'])
  const first = withLimits[0].properties.limits
  for (const d of withLimits) assert.deepEqual(d.properties.limits, first, `${String(d.title)} limits differ from ${String(withLimits[0].title)}'s`)
  assert.deepEqual([...LIMIT_KEYS].sort(), Object.keys(first.properties).sort())
})

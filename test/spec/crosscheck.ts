/**
 * Property-based cross-check of the spec compiler (issue 17 item 5): random
 * schemas inside the supported subset, with property and `$defs` names drawn
 * from all of Unicode (controls, quotes, backslashes, `*​/`, `"""`, U+2028 and
 * other breakout material), and random documents biased towards those names.
 * One batch is compiled into one package, so tsc, Python and Go each run once
 * per batch; the generated code must pass the languages' own checkers and
 * agree with ajv (`ownProperties: true`) on every document.
 *
 * Used by test/spec/crosscheck.test.ts (a small batch in `npm test`) and by
 * the `spec` fuzz target (fuzz/spec-targets.ts, bigger batches for longer).
 *
 * @example
 * const batch = fc.sample(batchArbitrary({ schemas: 4, docs: 6 }), { numRuns: 1, seed: 7 })[0]
 * const problems = await crossCheck(batch, dir) // [] when all agree
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { compileSchemas, writeGenerated } from '../../src/spec/compiler/index.js'
import { pointerFragment } from '../../src/spec/compiler/bundle.js'
import { escapePointer } from '../../src/spec/compiler/subset.js'
import { checkGo, checkPy, checkTs, goAvailable, type Case, type LangReport } from './helpers.js'

const DRAFT = 'https://json-schema.org/draft/2020-12/schema'

/** Fragments that have broken generated code before, or could. */
const NASTY = ['/', '\n', '\r', '\r\n', '\t', '\u0000', '\u0085', '\u2028', '\u2029', '\ufeff', '\u202e', '"', "'", '`', '\\', '\\u0041', '*/', '/*', '//', '#', '"""', "'''", '${', '}', '%', '%25', '%zz', '~', '~0', '~1', ' ', '.', '-', '_', '__', '__init__', 'toString', 'constructor', 'valueOf', 'hasOwnProperty', 'List', 'Any', 'CID', 'DagJson', 'Encode', 'from', 'class', 'func', 'import', 'package', 'pass', 'None', 'null', 'x', 'X', '1', 'é', '😀', '\u{10ffff}', '\ue000']

/** A member name: nasty fragments mixed with arbitrary code points; not `__proto__` (refused by design, UnsupportedNameError). */
export const nameArbitrary: fc.Arbitrary<string> = fc.array(fc.oneof(fc.constantFrom(...NASTY), fc.string({ unit: 'binary', maxLength: 3 })), { minLength: 1, maxLength: 4 })
  .map(parts => parts.join(''))
  .filter(n => n !== '__proto__')

const PATTERNS = ['^a', 'b$', '^[a-z]*$', '\\d', '^.$', 'é', '^\\s*$', '[\\u2028"]', '^(ab|c)+$', 'x{2,3}', '\\\\', '"""']
const NUMBERS = [-3, -1, -0.5, 0, 0.5, 1, 1.5, 2, 3, 10]

type Schema = boolean | Record<string, unknown>

/** Placeholder for a `$ref` to the n-th `$defs` entry; resolved once the names are known. */
interface RefHole { __ref: number }

function schemaArbitrary (names: fc.Arbitrary<string>, maxDepth: number): fc.Arbitrary<Schema> {
  const json = fc.oneof(fc.constant(null), fc.boolean(), fc.constantFrom(...NUMBERS), names, fc.array(fc.constantFrom(1, 'a', null), { maxLength: 2 }), fc.dictionary(names, fc.constantFrom(1, 'a'), { maxKeys: 2 }))
  const { schema } = fc.letrec<{ schema: Schema, leaf: Schema }>(tie => ({
    leaf: fc.oneof(
      fc.boolean(),
      fc.record({ type: fc.oneof(fc.constantFrom('null', 'boolean', 'object', 'array', 'number', 'integer', 'string'), fc.uniqueArray(fc.constantFrom('null', 'boolean', 'number', 'integer', 'string', 'array', 'object'), { minLength: 1, maxLength: 3 })) }),
      fc.record({ enum: fc.array(json, { minLength: 1, maxLength: 3 }) }),
      fc.record({ const: json }),
      fc.record({ minimum: fc.constantFrom(...NUMBERS), maximum: fc.constantFrom(...NUMBERS), exclusiveMinimum: fc.constantFrom(...NUMBERS), multipleOf: fc.constantFrom(0.5, 1, 2, 3) }, { requiredKeys: [] }),
      fc.record({ minLength: fc.nat(3), maxLength: fc.nat(4), pattern: fc.constantFrom(...PATTERNS) }, { requiredKeys: [] }),
      fc.nat(7).map((i): Schema => ({ __ref: i } satisfies RefHole as unknown as Record<string, unknown>)),
      fc.record({ description: names, title: names }).map(d => ({ ...d, type: 'string' }))
    ),
    schema: maxDepth <= 0
      ? tie('leaf')
      : fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        tie('leaf'),
        fc.record({
          type: fc.constant('object'),
          properties: fc.dictionary(names, tie('schema'), { maxKeys: 4 }),
          required: fc.uniqueArray(names, { maxLength: 2 }),
          additionalProperties: tie('schema'),
          minProperties: fc.nat(2),
          maxProperties: fc.nat(5),
          description: names
        }, { requiredKeys: ['properties'] }),
        fc.record({
          items: tie('schema'),
          prefixItems: fc.array(tie('schema'), { minLength: 1, maxLength: 2 }),
          minItems: fc.nat(2),
          maxItems: fc.nat(4),
          uniqueItems: fc.boolean()
        }, { requiredKeys: [] }),
        fc.record({ allOf: fc.array(tie('schema'), { minLength: 1, maxLength: 2 }) }),
        fc.record({ anyOf: fc.array(tie('schema'), { minLength: 1, maxLength: 2 }) }),
        fc.record({ oneOf: fc.array(tie('schema'), { minLength: 1, maxLength: 2 }) }),
        fc.record({ not: tie('schema') })
      )
  }))
  return schema
}

/** Replaces `{__ref: n}` holes with `$ref`s to `$defs` names (percent-encoded pointers), or `true` without defs. */
function fillRefs (s: unknown, defNames: string[]): unknown {
  if (Array.isArray(s)) return s.map(x => fillRefs(x, defNames))
  if (s == null || typeof s !== 'object') return s
  const o = s as Record<string, unknown>
  if (typeof o.__ref === 'number') {
    if (defNames.length === 0) return true
    return { $ref: `#${pointerFragment(`/$defs/${escapePointer(defNames[o.__ref % defNames.length])}`)}` }
  }
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) {
    // data, not schemas: leave enum/const values alone
    Object.defineProperty(out, k, { value: k === 'enum' || k === 'const' ? v : k === 'properties' || k === '$defs' ? fillMap(v, defNames) : fillRefs(v, defNames), enumerable: true, writable: true, configurable: true })
  }
  // ajv never enforces required: [""] (the compiler refuses it: UnsupportedNameError)
  if (Array.isArray(out.required)) out.required = out.required.filter(n => n !== '')
  return out
}

function fillMap (m: unknown, defNames: string[]): unknown {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(m as Record<string, unknown>)) Object.defineProperty(out, k, { value: fillRefs(v, defNames), enumerable: true, writable: true, configurable: true })
  return out
}

/** Every member name a schema mentions (for documents that actually hit its properties). */
function namesIn (s: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(s)) for (const x of s) namesIn(x, out)
  else if (s != null && typeof s === 'object') {
    const o = s as Record<string, unknown>
    for (const k of ['properties', '$defs']) if (o[k] != null && typeof o[k] === 'object') for (const n of Object.keys(o[k])) out.add(n)
    if (Array.isArray(o.required)) for (const n of o.required) out.add(n as string)
    for (const [k, v] of Object.entries(o)) if (k !== 'enum' && k !== 'const') namesIn(v, out)
  }
  return out
}

function documentArbitrary (names: string[]): fc.Arbitrary<unknown> {
  const key = names.length > 0 ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: nameArbitrary }) : nameArbitrary
  const str = names.length > 0 ? fc.oneof(fc.constantFrom(...names), fc.string({ unit: 'binary', maxLength: 4 }), fc.constantFrom('a', 'ab', 'abc', 'x\n', '\u2028', '"""', '7')) : fc.string({ unit: 'binary', maxLength: 4 })
  const { value } = fc.letrec<{ value: unknown }>(tie => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null), fc.boolean(), fc.constantFrom(...NUMBERS, 4, 6, 100), str,
      fc.array(tie('value'), { maxLength: 3 }),
      fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map(entries => {
        const o: Record<string, unknown> = {}
        for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
        return o
      })
    )
  }))
  return value
}

export interface Batch {
  /** schema documents, each with its own `$id` */
  schemas: Array<Record<string, unknown>>
  /** documents per schema (same order) */
  docs: unknown[][]
}

export interface BatchOptions {
  /** schemas per batch @default 6 */
  schemas?: number
  /** documents per schema @default 8 */
  docs?: number
  /** nesting depth of generated schemas @default 3 */
  depth?: number
}

/** One schema document with `$defs` (named from all of Unicode) and documents for it. */
function entryArbitrary (index: number, options: BatchOptions): fc.Arbitrary<{ schema: Record<string, unknown>, docs: unknown[] }> {
  const depth = options.depth ?? 3
  const sub = schemaArbitrary(nameArbitrary, depth - 1)
  return fc.record({
    defs: fc.dictionary(nameArbitrary, sub, { maxKeys: 3 }),
    root: schemaArbitrary(nameArbitrary, depth),
    title: nameArbitrary,
    description: nameArbitrary
  }).chain(({ defs, root, title, description }) => {
    const defNames = Object.keys(defs)
    const body = fillRefs(typeof root === 'boolean' ? { allOf: [root] } : root, defNames) as Record<string, unknown>
    const schema: Record<string, unknown> = { $schema: DRAFT, $id: `pl:fuzz:S${index}`, title: `S${index} ${title}`, description, ...body }
    // a `$defs` entry refers only to entries before it: no $ref cycle (refused: RefCycleError)
    if (defNames.length > 0) schema.$defs = Object.fromEntries(Object.entries(defs).map(([k, v], i) => [k, fillRefs(v, defNames.slice(0, i))]))
    const names = [...namesIn(schema, new Set<string>())].filter(n => n !== '__proto__')
    return fc.array(documentArbitrary(names), { minLength: options.docs ?? 8, maxLength: options.docs ?? 8 }).map(docs => ({ schema, docs }))
  })
}

export function batchArbitrary (options: BatchOptions = {}): fc.Arbitrary<Batch> {
  const n = options.schemas ?? 6
  return fc.tuple(...Array.from({ length: n }, (_, i) => entryArbitrary(i, options))).map(entries => ({ schemas: entries.map(e => e.schema), docs: entries.map(e => e.docs) }))
}

/** ajv's verdicts (the reference, with the options the generated TS uses). */
export function ajvVerdicts (batch: Batch): boolean[] {
  const ajv = new Ajv2020({ strict: false, ownProperties: true })
  for (const s of batch.schemas) ajv.addSchema(s)
  return batch.schemas.flatMap((s, i) => {
    const v = ajv.getSchema(s.$id as string)
    if (v == null) throw new Error(`ajv has no schema ${String(s.$id)}`)
    return batch.docs[i].map(d => v(d) === true)
  })
}

/**
 * Compiles the batch into `dir` (one package, `fuzzspec`) and checks it in
 * TS, Python and Go (Go skipped when not installed). Returns the problems
 * found, [] when every checker is clean and every verdict matches ajv's.
 */
export async function crossCheck (batch: Batch, dir: string): Promise<string[]> {
  const pkg = 'fuzzspec'
  await mkdir(dir, { recursive: true })
  const files: string[] = []
  for (const [i, s] of batch.schemas.entries()) {
    const f = join(dir, `s${i}.json`)
    await writeFile(f, JSON.stringify(s))
    files.push(f)
  }
  const { ctx, files: generated } = await compileSchemas(files, { pyPackage: pkg, goPackage: pkg })
  const out = join(dir, 'out')
  await writeGenerated(out, generated)
  const labelOf = new Map(ctx.entries.map(e => [e.ajvRef, e.label]))
  const cases: Case[] = batch.schemas.flatMap((s, i) => batch.docs[i].map(doc => ({ schema: labelOf.get(s.$id as string) as string, doc })))
  const expected = ajvVerdicts(batch)
  const reports: Record<string, LangReport> = {
    ts: await checkTs(out, cases),
    py: await checkPy(out, pkg, cases)
  }
  if (goAvailable()) reports.go = await checkGo(out, pkg, cases)
  const problems: string[] = []
  for (const [lang, r] of Object.entries(reports)) {
    if (r.check !== '') problems.push(`${lang}: the generated code fails its checker:\n${r.check}`)
    if (r.stray !== '') problems.push(`${lang}: the generated code printed:\n${r.stray}`)
    if (r.error != null) problems.push(`${lang}: ${r.error}`)
    r.verdicts?.forEach((v, i) => {
      if (v !== expected[i]) problems.push(`${lang}: ${cases[i].schema}: ${JSON.stringify(cases[i].doc)} is ${v ? 'valid' : 'invalid'}, ajv says ${expected[i] ? 'valid' : 'invalid'}`)
    })
  }
  return problems
}

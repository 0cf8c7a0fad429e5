/**
 * Hostile and corner-case schemas (issue 17): names that try to break out of
 * the generated source, always-true subschemas, Object.prototype member
 * names, percent-encoded $ref pointers. Each case is compiled into its own
 * package and checked in all three languages: the generated code passes the
 * language's own checker (tsc strict, py_compile with warnings as errors,
 * go vet), runs nothing but the validators, and agrees with ajv
 * (ownProperties: true) on every document.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { compileSchemas, createContext, dslStub, loadBundle, scaffold, writeGenerated } from '../../src/spec/compiler/index.js'
import { pointerFragment } from '../../src/spec/compiler/bundle.js'
import { tempDir } from '../helpers/tmp.js'
import { checkGo, checkPy, checkTs, goAvailable, GO_SKIP, run, type Case, type LangReport } from './helpers.js'

const DRAFT = 'https://json-schema.org/draft/2020-12/schema'

/** Python: a property name that closes the validator's comment and runs code at import. */
const PY_BREAKOUT = "x\n    pass\nprint('PWNED-PY')\ndef _d():\n    #"
/** Go: a property name that closes the validator's comment and declares an init func. */
const GO_BREAKOUT = 'x\nfunc init() { println("PWNED-GO") }'

const INJECT = {
  $schema: DRAFT,
  $id: 'pl:test:Inject.v1',
  title: 'Inject */ console.log("PWNED-TS") /* """ \\ \u2028 x',
  description: 'd\r\nprint("PWNED-PY-DOC")\n"""\nimport os\n"""\u2028console.log("PWNED-TS-DOC")',
  type: 'object',
  required: [PY_BREAKOUT, GO_BREAKOUT],
  properties: {
    [PY_BREAKOUT]: { type: 'string', description: 'a\rprint("PWNED-PY-FIELD")' },
    [GO_BREAKOUT]: { type: 'integer', description: 'b\n*/ func init() { println("PWNED-GO-FIELD") } /*' },
    'q`b"c\\d': { type: 'boolean' },
    '*/ console.log("PWNED-TS-KEY") /*': { enum: ['"""', '\u2028', '\\', '`'] },
    '\u2028console.log("PWNED-TS-LS")': { const: 'ok' },
    '"""': { type: 'number' },
    '\r\u0000\u0085\ufeff\u202e\u2029\u{10ffff}': { type: 'null' },
    'ends with backslash \\': { type: 'string', description: 'trailing backslash \\' }
  },
  $defs: {
    [`y${GO_BREAKOUT}`]: { type: 'object', properties: { k: { type: 'string' } }, description: 'd"' },
    "z\r\nprint('PWNED-PY-DEF')": { type: 'object', properties: { '\n': { type: 'string' } }, description: '\\' },
    'D"""': { type: ['string', 'null'], description: 'alias "doc"' }
  }
}

const allInject = {
  [PY_BREAKOUT]: 's',
  [GO_BREAKOUT]: 3,
  'q`b"c\\d': true,
  '*/ console.log("PWNED-TS-KEY") /*': '\u2028',
  '\u2028console.log("PWNED-TS-LS")': 'ok',
  '"""': 1.5,
  '\r\u0000\u0085\ufeff\u202e\u2029\u{10ffff}': null,
  'ends with backslash \\': ''
}

const ALWAYS_TRUE = {
  $schema: DRAFT,
  $id: 'pl:test:AlwaysTrue.v1',
  title: 'AlwaysTrue.v1',
  type: 'object',
  properties: {
    list: { items: true },
    open: { additionalProperties: true },
    none: { required: [] },
    empty: { properties: {} },
    both: { type: 'array', items: true, prefixItems: [true] },
    notUnique: { uniqueItems: false },
    allTrue: { allOf: [true, {}], anyOf: [true], oneOf: [true], not: false }
  }
}

const PROTO = {
  $schema: DRAFT,
  $id: 'pl:test:Proto.v1',
  title: 'Proto.v1',
  type: 'object',
  required: ['toString'],
  properties: {
    toString: { type: 'string' },
    constructor: { type: 'string' },
    hasOwnProperty: { type: 'boolean' },
    p: { $ref: '#/$defs/needsProto' }
  },
  $defs: {
    needsProto: { type: 'object', properties: { valueOf: { type: 'number' } }, required: ['__proto__'] }
  }
}

/** $defs whose type names would shadow language names (`None = ...` does not compile in Python; `interface Array` breaks TS types) */
const RESERVED = {
  $schema: DRAFT,
  $id: 'pl:test:Reserved.v1',
  title: 'Reserved.v1',
  type: 'object',
  properties: { n: { $ref: '#/$defs/None' }, a: { $ref: '#/$defs/Array' }, l: { type: 'array', items: { $ref: '#/$defs/List' } } },
  $defs: {
    None: { type: ['string', 'null'] },
    True: { type: 'boolean' },
    False: { const: false },
    Array: { type: 'object', properties: { x: { type: 'integer' } } },
    Record: { type: 'array', items: { $ref: '#/$defs/Array' } },
    List: { type: 'object', properties: { y: { type: 'string' } } },
    DagJson: { type: 'object', properties: { z: { type: 'null' } } },
    CID: { type: 'string' },
    ValidateMe: { type: 'object', properties: { v: { type: 'number' } } }
  }
}

/** `/` is the dag-json link key: the Go codecs refuse it, validation must not */
const SLASH = {
  $schema: DRAFT,
  $id: 'pl:test:Slash.v1',
  title: 'Slash.v1',
  type: 'object',
  required: ['/'],
  properties: { '/': { type: 'string' }, a: { type: 'object' } }
}

const PERCENT = {
  $schema: DRAFT,
  $id: 'pl:test:Percent.v1',
  title: 'Percent.v1',
  type: 'object',
  properties: {
    a: { $ref: '#/$defs/percent%25field' },
    b: { $ref: '#/$defs/sp%20ace%22q' },
    c: { $ref: '#/$defs/sl~1ash~0tilde' },
    d: { $ref: '#/$defs/%C3%A9t%C3%A9' },
    e: { $ref: '#/$defs/hash%23%7Bbrace%7D' }
  },
  $defs: {
    'percent%field': { type: 'string' },
    'sp ace"q': { type: 'integer' },
    'sl/ash~tilde': { type: 'boolean' },
    été: { type: 'null' },
    'hash#{brace}': { type: 'array', maxItems: 1 }
  }
}

interface Compiled { reports?: { ts: LangReport, py: LangReport, go?: LangReport }, error?: unknown }

let dir: string
let cleanup: () => Promise<void>
const compiled = new Map<string, Compiled>()

/** ajv, the reference, with the option the generated TS uses. */
function reference (schema: object, cases: Case[]): boolean[] {
  const ajv = new Ajv2020({ strict: false, ownProperties: true })
  ajv.addSchema(schema)
  return cases.map(c => {
    const [, pointer] = c.schema.split('#')
    const v = ajv.getSchema(pointer == null ? (schema as { $id: string }).$id : `${(schema as { $id: string }).$id}#${pointer}`)
    assert.ok(v != null)
    return v(c.doc) === true
  })
}

/** Parses a JSON text, so `__proto__` members are own data members as on the wire. */
const wire = (text: string): unknown => JSON.parse(text)

const CASES: Record<string, { schema: object, cases: Case[] }> = {
  inject: {
    schema: INJECT,
    cases: [
      { schema: INJECT.title, doc: {} },
      { schema: INJECT.title, doc: allInject },
      { schema: INJECT.title, doc: { ...allInject, [GO_BREAKOUT]: 3.5 } },
      { schema: INJECT.title, doc: { ...allInject, '*/ console.log("PWNED-TS-KEY") /*': 'no' } },
      { schema: INJECT.title, doc: { ...allInject, '\r\u0000\u0085\ufeff\u202e\u2029\u{10ffff}': 0 } },
      { schema: INJECT.title, doc: { ...allInject, '"""': '1.5' } }
    ]
  },
  always: {
    schema: ALWAYS_TRUE,
    cases: [
      { schema: 'AlwaysTrue.v1', doc: { list: [1, 'a', null], open: { x: 1 }, none: {}, empty: { a: 1 }, both: [1, 2], notUnique: [1, 1], allTrue: 7 } },
      { schema: 'AlwaysTrue.v1', doc: { both: 'not an array' } },
      { schema: 'AlwaysTrue.v1', doc: [] }
    ]
  },
  proto: {
    schema: PROTO,
    cases: [
      { schema: 'Proto.v1', doc: {} },
      { schema: 'Proto.v1', doc: { toString: 'x' } },
      { schema: 'Proto.v1', doc: { toString: 1 } },
      { schema: 'Proto.v1', doc: wire('{"toString": "x", "constructor": 5}') },
      { schema: 'Proto.v1', doc: { toString: 'x', constructor: 'fine', hasOwnProperty: true } },
      { schema: 'Proto.v1', doc: { toString: 'x', hasOwnProperty: 'no' } },
      { schema: 'Proto.v1', doc: { toString: 'x', p: {} } },
      { schema: 'Proto.v1', doc: wire('{"toString": "x", "p": {"__proto__": 1}}') },
      { schema: 'Proto.v1', doc: wire('{"toString": "x", "p": {"__proto__": 1, "valueOf": "no"}}') },
      { schema: 'Proto.v1', doc: wire('{"toString": "x", "p": {"__proto__": 1, "toString": 2}}') }
    ]
  },
  reserved: {
    schema: RESERVED,
    cases: [
      { schema: 'Reserved.v1', doc: { n: null, a: { x: 1 }, l: [{ y: 'a' }] } },
      { schema: 'Reserved.v1', doc: { n: 1 } },
      { schema: 'Reserved.v1', doc: { a: { x: 1.5 } } },
      { schema: 'Reserved.v1', doc: { l: [{ y: 1 }] } }
    ]
  },
  slash: {
    schema: SLASH,
    cases: [
      { schema: 'Slash.v1', doc: { '/': 'x' } },
      { schema: 'Slash.v1', doc: { '/': 1 } },
      { schema: 'Slash.v1', doc: { a: { '/': 'bafy' } } },
      { schema: 'Slash.v1', doc: {} }
    ]
  },
  percent: {
    schema: PERCENT,
    cases: [
      { schema: 'Percent.v1', doc: { a: 's', b: 1, c: true, d: null, e: [] } },
      { schema: 'Percent.v1', doc: { a: 1 } },
      { schema: 'Percent.v1', doc: { b: 's' } },
      { schema: 'Percent.v1', doc: { c: 1 } },
      { schema: 'Percent.v1', doc: { d: 0 } },
      { schema: 'Percent.v1', doc: { e: [1, 2] } }
    ]
  }
}

before(async () => {
  ({ dir, cleanup } = await tempDir('pl-spec-hostile-'))
  for (const [name, { schema, cases }] of Object.entries(CASES)) {
    const pkg = `hostile_${name}`
    const out = join(dir, name)
    try {
      await mkdir(out, { recursive: true })
      const file = join(out, 'schema.json')
      await writeFile(file, JSON.stringify(schema))
      const { files } = await compileSchemas([file], { pyPackage: pkg, goPackage: pkg })
      await writeGenerated(out, files)
      compiled.set(name, {
        reports: {
          ts: await checkTs(out, cases),
          py: await checkPy(out, pkg, cases),
          ...(goAvailable() ? { go: await checkGo(out, pkg, cases) } : {})
        }
      })
    } catch (error) {
      compiled.set(name, { error })
    }
  }
})

after(async () => { await cleanup() })

/** Every language: checker clean, nothing printed but the verdicts, verdicts = ajv's. */
function assertAgree (name: string, t: { skip: (m: string) => void }): void {
  const c = compiled.get(name)
  assert.ok(c?.reports != null, `compiling ${name} failed: ${String((c?.error as Error | undefined)?.stack ?? c?.error)}`)
  const expected = reference(CASES[name].schema, CASES[name].cases)
  for (const [lang, r] of Object.entries(c.reports)) {
    assert.equal(r.check, '', `${lang}: the generated code does not pass the ${lang} checker`)
    assert.equal(r.error, undefined, `${lang}: ${String(r.error)}`)
    assert.equal(r.stray, '', `${lang}: the generated code printed something`)
    assert.deepEqual(r.verdicts, expected, `${lang} disagrees with ajv`)
  }
  if (c.reports.go == null) t.skip(GO_SKIP)
}

test('schema names, titles and descriptions cannot break out of comments, literals or docstrings in TS, Python or Go', (t) => {
  assertAgree('inject', t)
})

test('always-true subschemas (items: true, additionalProperties: true, required: []) give importable Python', (t) => {
  assertAgree('always', t)
})

test('members named like Object.prototype properties (toString, __proto__, constructor) get the same verdicts in all three languages', (t) => {
  const expected = reference(PROTO, CASES.proto.cases)
  assert.deepEqual(expected, [false, true, false, false, true, false, false, true, false, true], 'ajv with ownProperties: only own members count')
  assertAgree('proto', t)
})

test('$defs named like language names (None, True, Array, Record, List, DagJson, CID, Validate*) give code that compiles in all three languages', (t) => {
  assertAgree('reserved', t)
})

test('a document with a "/" member (the dag-json link key) gets ajv\'s verdict in Go too, not a decode error', (t) => {
  assertAgree('slash', t)
})

test('a $ref with a percent-encoded pointer (#/$defs/percent%25field) compiles and resolves in all three languages', (t) => {
  assertAgree('percent', t)
})

/** Compiles one schema document (TS only: these fail before any code is generated). */
async function compileOne (doc: unknown): Promise<void> {
  const file = join(dir, `one-${Math.random().toString(36).slice(2)}.json`)
  await writeFile(file, typeof doc === 'string' ? doc : JSON.stringify(doc))
  await compileSchemas([file], { langs: ['ts'] })
}

test('a property or $defs named "__proto__" (which ajv skips) fails with UnsupportedNameError', async () => {
  for (const where of ['properties', '$defs']) {
    await assert.rejects(compileOne(`{"$id": "pl:test:P${where}", "${where}": {"__proto__": {"type": "string"}}}`), (err: any) => {
      assert.equal(err.name, 'UnsupportedNameError')
      assert.equal(err.details.pointer, `#/${where}`)
      return true
    })
  }
})

test('required: [""] (which ajv never enforces) fails with UnsupportedNameError', async () => {
  await assert.rejects(compileOne({ type: 'object', required: ['a', ''] }), (err: any) => err.name === 'UnsupportedNameError' && err.details.pointer === '#/required')
})

test('a $ref cycle that never descends into the instance fails with RefCycleError; recursion through members compiles', async () => {
  await assert.rejects(compileOne({ $defs: { A: { oneOf: [{ $ref: '#/$defs/A' }] } } }), (err: any) => {
    assert.equal(err.name, 'RefCycleError')
    assert.deepEqual(err.details.cycle.map((c: string) => c.split('#')[1]), ['/$defs/A', '/$defs/A/oneOf/0'])
    return true
  })
  await assert.rejects(compileOne({ $ref: '#/$defs/B', $defs: { B: { allOf: [{ not: { $ref: '#' } }] } } }), { name: 'RefCycleError' })
  await compileOne({ $defs: { Tree: { type: 'object', properties: { kids: { type: 'array', items: { $ref: '#/$defs/Tree' } } }, anyOf: [{ $ref: '#/$defs/Leaf' }] }, Leaf: { required: [] } } })
})

test('a name with a lone surrogate (no UTF-8 form) fails with UnsupportedNameError', async () => {
  await assert.rejects(compileOne('{"properties": {"a\\ud800": {}}}'), { name: 'UnsupportedNameError' })
  await assert.rejects(compileOne('{"required": ["\\udc00"]}'), { name: 'UnsupportedNameError' })
})

test('a $ref fragment with malformed percent-encoding fails with UnresolvedRefError, not a URIError', async () => {
  await assert.rejects(compileOne({ $defs: { a: {} }, properties: { x: { $ref: '#/$defs/%zz' } } }), (err: any) => {
    assert.equal(err.name, 'UnresolvedRefError')
    assert.match(err.message, /malformed percent-encoding/)
    return true
  })
})

test('pointerFragment percent-encodes what a URI fragment cannot hold raw, and decodes back to the pointer', () => {
  for (const pointer of ['/$defs/percent%field', '/$defs/sp ace"q', '/$defs/sl~1ash~0tilde', '/$defs/été', '/$defs/hash#{brace}', '/$defs/\n\u2028😀']) {
    const f = pointerFragment(pointer)
    assert.match(f, /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/)
    assert.equal(decodeURIComponent(f), pointer)
  }
  assert.equal(pointerFragment('/$defs/percent%field'), '/$defs/percent%25field')
})

test('scaffolded modules and DSL stubs keep a hostile capability version, description and member names on their comment lines', async () => {
  const spec = {
    $schema: DRAFT,
    $id: 'pl:cap:Hostile.v1',
    title: 'Hostile.v1',
    'x-pl-capability': { name: 'Hostile', version: '1\nprint("PWNED-PY")\nconsole.log("PWNED-JS")', description: 'd\r- step: Evil()' },
    type: 'object',
    required: ['input', 'output'],
    properties: {
      input: { type: 'object', required: ['a\n- step: Evil()'], properties: { 'a\n- step: Evil()': { enum: ['*/', '"""'] } } },
      output: { type: 'string' }
    }
  }
  const file = join(dir, 'hostile-cap.json')
  await writeFile(file, JSON.stringify(spec))
  const stub = dslStub(createContext(await loadBundle([file])))
  assert.equal(stub.split('\n').filter(l => l.startsWith('- step:')).length, 1, stub)
  assert.doesNotMatch(stub, /\r/)
  for (const lang of ['py', 'ts'] as const) {
    const out = join(dir, `scaffold-${lang}`)
    await scaffold(file, { lang, out })
    const main = join(out, lang === 'py' ? 'function.py' : 'function.mjs')
    const res = lang === 'py'
      ? await run('python3', ['-W', 'error', '-c', 'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[1] + ".checked", doraise=True)', main])
      : await run(process.execPath, ['--check', main])
    assert.equal(res.code, 0, `${lang}: ${res.stderr}`)
    const imported = lang === 'py'
      ? await run('python3', ['-c', 'import importlib.util, sys; s = importlib.util.spec_from_file_location("f", sys.argv[1]); m = importlib.util.module_from_spec(s); s.loader.exec_module(m)', main], { env: { PYTHONDONTWRITEBYTECODE: '1' } })
      : await run(process.execPath, ['--input-type=module', '-e', 'await import(process.argv[1])', pathToFileURL(main).href])
    assert.equal(imported.code, 0, `${lang}: ${imported.stderr}`)
    assert.doesNotMatch(imported.stdout, /PWNED/, lang)
  }
})

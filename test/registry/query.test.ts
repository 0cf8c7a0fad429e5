import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { compileQuery, runQuery, type QueryDoc } from '../../src/registry/query.js'
import { QUERY_DOCS, QUERY_ERRORS } from '../../fuzz/registry-targets.js'

const ids = (req: unknown, docs: QueryDoc[] = QUERY_DOCS): string[] => runQuery(docs, req, d => d).results.map(d => String(d.workflow_id))
const refuses = (req: unknown, name: string): void => { assert.throws(() => compileQuery(req), (err: any) => err.name === name && err.statusCode === 400, JSON.stringify(req)) }

test('comparison and set operators on scalar fields', () => {
  assert.deepEqual(ids({ filter: { publisher: 'alice' } }), ['summarize'])
  assert.deepEqual(ids({ filter: { publisher: { $ne: 'alice' } } }), ['diamond', 'route'])
  assert.deepEqual(ids({ filter: { publisher: { $in: ['alice', 'bob'] } } }), ['diamond', 'summarize'])
  assert.deepEqual(ids({ filter: { publisher: { $nin: ['alice', 'bob'] } } }), ['route'])
  assert.deepEqual(ids({ filter: { ts: { $gt: 1_700_000_000_000, $lte: 1_710_000_000_000 } } }), ['diamond'])
  assert.deepEqual(ids({ filter: { releaseTag: { $exists: true } } }), ['route'])
  assert.deepEqual(ids({ filter: { releaseTag: { $exists: false } } }), ['diamond', 'summarize'])
  assert.deepEqual(ids({ filter: { releaseTag: null } }), ['diamond', 'summarize'], 'null matches a missing field')
  assert.deepEqual(ids({ filter: { deleted: false } }), ['diamond', 'summarize'])
})

test('prefix and substring matches, and no match across types', () => {
  assert.deepEqual(ids({ filter: { name: { $prefix: 'Sum' } } }), ['summarize'])
  assert.deepEqual(ids({ filter: { workflow_id: { $contains: 'ou' } } }), ['route'])
  assert.deepEqual(ids({ filter: { ts: { $prefix: '17' } } }), [], 'a number is not a string')
  assert.deepEqual(ids({ filter: { name: { $gt: 5 } } }), [], 'a string does not compare with a number')
})

test('versions compare as semver, dates as ISO 8601 or ms', () => {
  assert.deepEqual(ids({ filter: { version: { $gt: '1.9.0' } } }), ['diamond'], '1.10.0-beta.1 > 1.9.0 in semver, not as strings')
  assert.deepEqual(ids({ filter: { version: { $lt: '1.10.0' } } }), ['diamond', 'route', 'summarize'], 'a pre-release ranks below its release')
  assert.deepEqual(ids({ filter: { ts: { $gte: '2024-03-01T00:00:00Z' } } }), ['diamond', 'route'])
  refuses({ filter: { ts: { $gte: 'yesterday' } } }, 'InvalidQueryOperandError')
})

test('list fields match when some element does; $ne/$nin when none does', () => {
  assert.deepEqual(ids({ filter: { tags: 'nlp' } }), ['summarize'])
  assert.deepEqual(ids({ filter: { modules: { $in: ['sum', 'llm'] } } }), ['diamond', 'summarize'])
  assert.deepEqual(ids({ filter: { modules: { $prefix: 'db' } } }), ['diamond'])
  assert.deepEqual(ids({ filter: { tags: { $ne: 'nlp' } } }), ['diamond', 'route'])
  assert.deepEqual(ids({ filter: { tags: { $nin: ['nlp', 'routing'] } } }), ['diamond'])
  assert.deepEqual(ids({ filter: { tags: { $exists: false } } }), ['diamond'], 'an empty list counts as absent')
})

test('$and, $or, $not at filter level and $not on a field', () => {
  assert.deepEqual(ids({ filter: { $or: [{ publisher: 'alice' }, { deleted: true }] } }), ['route', 'summarize'])
  assert.deepEqual(ids({ filter: { $and: [{ deleted: false }, { tags: { $exists: true } }] } }), ['summarize'])
  assert.deepEqual(ids({ filter: { $not: { publisher: 'alice' } } }), ['diamond', 'route'])
  assert.deepEqual(ids({ filter: { name: { $not: { $prefix: 'Sum' } } } }), ['diamond', 'route'])
})

test('sort by several keys, limit and a cursor bound to the filter and sort', () => {
  assert.deepEqual(ids({ sort: { ts: -1 } }), ['route', 'diamond', 'summarize'])
  assert.deepEqual(ids({ sort: { version: 'desc' } }), ['diamond', 'summarize', 'route'])
  assert.deepEqual(ids({ sort: { deleted: 1, publisher: -1 } }), ['diamond', 'summarize', 'route'])
  const first = runQuery(QUERY_DOCS, { sort: { ts: 1 }, limit: 2 }, d => d)
  assert.equal(first.total, 3)
  assert.ok(first.next != null)
  assert.deepEqual(ids({ sort: { ts: 1 }, limit: 2, cursor: first.next }), ['route'])
  refuses({ sort: { ts: -1 }, limit: 2, cursor: first.next }, 'InvalidQueryCursorError')
  refuses({ cursor: 'garbage' }, 'InvalidQueryCursorError')
  refuses({ limit: 1001 }, 'QueryTooLargeError')
  refuses({ limit: 0 }, 'InvalidQueryOperandError')
  refuses({ sort: { secret: 1 } }, 'ForbiddenQueryKeyError')
  refuses({ sort: { ts: 2 } }, 'InvalidQueryOperandError')
})

test('injection attempts are refused with typed errors: code, regexes, prototype keys, depth, size', () => {
  refuses({ filter: { $where: 'this.publisher === "alice"' } }, 'UnknownQueryOperatorError')
  refuses({ filter: { $where: function () { return true } } }, 'InvalidQueryOperandError')
  refuses({ filter: { name: { $regex: '^S' } } }, 'UnknownQueryOperatorError')
  refuses({ filter: { name: /^S/ } }, 'InvalidQueryOperandError')
  refuses({ filter: { name: { $eq: /^S/ } } }, 'InvalidQueryOperandError')
  refuses({ filter: { $expr: { $eq: ['$a', 1] } } }, 'UnknownQueryOperatorError')
  refuses({ filter: { name: { $function: { body: 'return 1' } } } }, 'UnknownQueryOperatorError')
  refuses(JSON.parse('{"filter": {"__proto__": {"isAdmin": true}}}'), 'ForbiddenQueryKeyError')
  refuses(JSON.parse('{"filter": {"name": {"constructor": {"prototype": 1}}}}'), 'ForbiddenQueryKeyError')
  refuses({ filter: { prototype: 1 } }, 'ForbiddenQueryKeyError')
  refuses({ filter: { toString: 'x' } }, 'ForbiddenQueryKeyError')
  refuses({ filter: { hasOwnProperty: 'x' } }, 'ForbiddenQueryKeyError')
  refuses({ filter: { name: { $eq: { nested: 1 } } } }, 'InvalidQueryOperandError')
  refuses({ filter: { name: { sub: 1 } } }, 'InvalidQueryOperandError')
  refuses({ filter: { name: { $in: 'alice' } } }, 'InvalidQueryOperandError')
  refuses({ filter: { name: { $exists: 'yes' } } }, 'InvalidQueryOperandError')
  refuses({ filter: { ts: Number.NaN } }, 'InvalidQueryOperandError')
  refuses({ filter: { ts: Infinity } }, 'InvalidQueryOperandError')
  refuses({ filter: { name: 'x'.repeat(1025) } }, 'QueryTooLargeError')
  refuses({ filter: { name: { $in: Array.from({ length: 1001 }, (_, i) => i) } } }, 'QueryTooLargeError')
  let deep: Record<string, unknown> = { name: 'x' }
  for (let i = 0; i < 9; i++) deep = { $not: deep }
  refuses({ filter: deep }, 'QueryTooDeepError')
  let deepField: unknown = 'x'
  for (let i = 0; i < 9; i++) deepField = { $not: deepField }
  refuses({ filter: { name: deepField } }, 'QueryTooDeepError')
  refuses({ filter: {}, select: ['password'] }, 'ForbiddenQueryKeyError')
  refuses([], 'InvalidQueryOperandError')
  refuses({ filter: 'name == x' }, 'InvalidQueryOperandError')
  refuses({ filter: { $or: [] } }, 'InvalidQueryOperandError')
  assert.equal(({} as Record<string, unknown>).isAdmin, undefined)
})

test('nesting up to the limit is accepted', () => {
  // (query) 1 → filter 2 → $and 3 → [ ] 4 → {} 5 → name 6 → {$not} 7 → {$prefix} 8
  assert.deepEqual(ids({ filter: { $and: [{ name: { $not: { $prefix: 'S' } } }] } }), ['diamond', 'route'])
})

// ---------------------------------------------------------------- properties

const FIELDS = ['workflow_id', 'version', 'name', 'publisher', 'ts', 'tags', 'modules', 'deleted', 'releaseTag']
const lit = fc.oneof(fc.constantFrom('alice', 'bob', 'nlp', 'sum', '1.2.0', 'diamond', ''), fc.integer({ min: 1_690_000_000_000, max: 1_730_000_000_000 }), fc.boolean(), fc.constant(null))
const cond = fc.oneof(
  lit,
  fc.record({ $eq: lit }),
  fc.record({ $ne: lit }),
  fc.record({ $in: fc.array(lit, { maxLength: 4 }) }),
  fc.record({ $nin: fc.array(lit, { maxLength: 4 }) }),
  fc.record({ $gt: fc.oneof(fc.string({ maxLength: 4 }), fc.integer()) }),
  fc.record({ $lte: fc.oneof(fc.string({ maxLength: 4 }), fc.integer()) }),
  fc.record({ $exists: fc.boolean() }),
  fc.record({ $prefix: fc.string({ maxLength: 3 }) }),
  fc.record({ $contains: fc.string({ maxLength: 3 }) })
)
const fieldFilter = fc.tuple(fc.constantFrom(...FIELDS), cond).map(([f, c]) => ({ [f]: c }))
const { filter } = fc.letrec<{ filter: Record<string, unknown> }>(tie => ({
  filter: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    fieldFilter,
    fc.record({ $not: tie('filter') }),
    fc.record({ $and: fc.array(tie('filter'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ $or: fc.array(tie('filter'), { minLength: 1, maxLength: 3 }) }))
}))
const depthOf = (v: unknown): number => v != null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0
const compiles = (f: unknown): boolean => { try { compileQuery({ filter: f }); return true } catch { return false } }
/** valid filters shallow enough to be combined under $not / $and / $or within the depth limit */
const shallow = filter.filter(f => depthOf(f) <= 5 && compiles(f))

test('property: any JSON value is either compiled or refused with a typed query error', () => {
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 10 }), fc.jsonValue({ maxDepth: 6 }), (a, b) => {
    for (const req of [a, { filter: a }, { filter: { name: b, $or: [a] } }]) {
      try {
        runQuery(QUERY_DOCS, req, d => d)
      } catch (err) {
        if (!QUERY_ERRORS.has((err as Error).name)) throw err
      }
    }
  }), { numRuns: 500 })
})

test('property: $not is the complement, $or the union and $and the intersection', () => {
  fc.assert(fc.property(shallow, shallow, (f, g) => {
    const all = new Set(ids({}))
    const a = new Set(ids({ filter: f }))
    const b = new Set(ids({ filter: g }))
    assert.deepEqual(new Set(ids({ filter: { $not: f } })), new Set([...all].filter(x => !a.has(x))))
    assert.deepEqual(new Set(ids({ filter: { $or: [f, g] } })), new Set([...a, ...b]))
    assert.deepEqual(new Set(ids({ filter: { $and: [f, g] } })), new Set([...a].filter(x => b.has(x))))
  }), { numRuns: 300 })
})

test('property: walking the cursor gives the full sorted result, each record once', () => {
  const docs: QueryDoc[] = Array.from({ length: 23 }, (_, i) => ({ workflow_id: `w${i}`, version: `1.${i % 5}.0`, ts: 1_700_000_000_000 + (i % 7), publisher: ['alice', 'bob', 'carol'][i % 3], tags: i % 2 === 0 ? ['even'] : [], modules: [], record: `bafy${String(i).padStart(3, '0')}` }))
  fc.assert(fc.property(shallow, fc.integer({ min: 1, max: 7 }), fc.constantFrom<Record<string, 1 | -1>>({ ts: -1 }, { version: 1, publisher: -1 }, { workflow_id: 1 }), (f, limit, sort) => {
    const full = runQuery(docs, { filter: f, sort, limit: 1000 }, d => d).results.map(d => d.workflow_id)
    const walked: unknown[] = []
    let cursor: string | undefined
    do {
      const page = runQuery(docs, { filter: f, sort, limit, ...(cursor != null ? { cursor } : {}) }, d => d)
      walked.push(...page.results.map(d => d.workflow_id))
      cursor = page.next
    } while (cursor != null)
    assert.deepEqual(walked, full)
  }), { numRuns: 200 })
})

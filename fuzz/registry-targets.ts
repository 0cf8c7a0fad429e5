/**
 * Fuzz target of the registry's query language: bytes → JSON → the query
 * compiler and evaluator over a fixed set of records. Every refusal must be
 * one of the query errors; anything else (a TypeError, a RangeError from
 * deep recursion, a hang) is a finding.
 */
import { runQuery, type QueryDoc } from '../src/registry/index.js'
import type { FuzzTarget } from './harness.js'

export const QUERY_ERRORS = new Set([
  'UnknownQueryOperatorError', 'ForbiddenQueryKeyError', 'QueryTooDeepError', 'QueryTooLargeError',
  'InvalidQueryOperandError', 'InvalidQueryCursorError', 'InvalidWorkflowVersionError'
])

export const QUERY_DOCS: QueryDoc[] = [
  { workflow_id: 'summarize', version: '1.2.0', name: 'Summarize', tags: ['nlp', 'docs'], modules: ['fetch', 'llm'], publisher: 'alice', ts: 1_700_000_000_000, deleted: false, record: 'bafy1' },
  { workflow_id: 'diamond', version: '1.10.0-beta.1', name: 'diamond', tags: [], modules: ['start', 'inc', 'dbl', 'sum'], publisher: 'bob', ts: 1_710_000_000_000, deleted: false, record: 'bafy2' },
  { workflow_id: 'route', version: '0.1.0', releaseTag: 'stable', tags: ['routing'], modules: [], publisher: '12D3KooWagent', ts: 1_720_000_000_000, deleted: true, record: 'bafy3' }
]

const SEEDS = [
  '{"filter":{"tags":"nlp","version":{"$gte":"1.0.0"}},"sort":{"ts":-1},"limit":2}',
  '{"filter":{"$or":[{"name":{"$prefix":"Sum"}},{"modules":{"$contains":"in"}}],"$not":{"deleted":true}}}',
  '{"filter":{"publisher":{"$in":["alice","bob"]},"releaseTag":{"$exists":false},"ts":{"$lt":"2024-06-01T00:00:00Z"}}}',
  '{"filter":{"$and":[{"workflow_id":{"$ne":"x"}},{"tags":{"$nin":["a"]}}]},"cursor":"eyJvIjoxLCJmIjoieCJ9"}',
  '{"filter":{"$where":"1"}}',
  '{"filter":{"__proto__":{"a":1}}}'
]

export function queryTarget (): FuzzTarget {
  const dec = new TextDecoder()
  return {
    name: 'query',
    allowed: QUERY_ERRORS,
    seeds: () => SEEDS.map(s => new TextEncoder().encode(s)),
    run: (input) => {
      let request: unknown
      try {
        request = JSON.parse(dec.decode(input))
      } catch {
        return // not JSON: the HTTP layer refuses it before the evaluator
      }
      const res = runQuery(QUERY_DOCS, request, d => d)
      if (res.results.length > res.total) throw new Error('more results than matches')
    }
  }
}

export async function registryTargets (): Promise<FuzzTarget[]> {
  return [queryTarget()]
}

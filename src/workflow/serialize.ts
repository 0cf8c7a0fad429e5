/**
 * The Task DAG's byte forms: dag-cbor for its CID, dag-json for files and
 * the wire. Both are canonical (keys sorted), so equal plans have equal bytes.
 */
import { cidStringOf, decodeJson, encodeJson } from '../core/encoding.js'
import type { TaskDag } from './ir.js'
import { topologicalOrder, validateDag } from './validate.js'
import { MAX_DOCUMENT_BYTES } from './constants.js'
import { InvalidDagError } from './errors.js'

/** CID (dag-cbor, sha2-256) of the canonical DAG: the plan's identity. */
export function dagCid (dag: TaskDag): string {
  return cidStringOf(dag)
}

/** dag-json text of the DAG; `pretty` indents it (same keys, same order). */
export function dagToJson (dag: TaskDag, options: { pretty?: boolean } = {}): string {
  const text = new TextDecoder().decode(encodeJson(dag))
  return options.pretty === true ? JSON.stringify(JSON.parse(text), null, 2) + '\n' : text
}

/**
 * Parses and validates dag-json text; steps come back in a topological order
 * (dag-json sorts keys, the IR promises dependency order).
 * @throws InvalidEncodingError for text that is not dag-json, an InvalidDagError-family error for a bad DAG
 */
export function dagFromJson (text: string): TaskDag {
  if (typeof text !== 'string') throw new InvalidDagError(`dagFromJson takes text, got ${typeof text}`)
  if (text.length > MAX_DOCUMENT_BYTES) throw new InvalidDagError(`DAG text is too large (${text.length} > ${MAX_DOCUMENT_BYTES} characters)`)
  const dag = decodeJson<TaskDag>(text.trim())
  validateDag(dag)
  const steps: TaskDag['steps'] = {}
  for (const id of topologicalOrder(dag.steps)) steps[id] = dag.steps[id]
  return { ...dag, steps }
}

/**
 * What an inbound A2A message asks for, read from its parts before the SDK
 * sees it (so a hostile message is refused with a JSON-RPC error, not a
 * failed task). Both wire shapes are read: v1.0 (`{text}`, `{data}`,
 * `{raw}`, `{url}`) and v0.3 (`{kind: 'text' | 'data' | 'file'}`).
 *
 *   data {capability, input?}  → a one-step negotiated run of the capability
 *   data {plan, input?}        → a DSL run
 *   text                       → the configured default capability, input {text}
 *   on an existing task: text, or data {choice} → the answer to its pending question
 */
import { compileDsl, type TaskDag } from '../../workflow/index.js'
import { A2aInvalidMessageError, A2aPartTooLargeError, A2aUnsupportedPartError } from './errors.js'
import { MAX_PARTS } from './constants.js'

/** A new task: the run to start. */
export interface A2aRunRequest {
  kind: 'run'
  dag: TaskDag
  input: Record<string, unknown>
  /** `capability <name>` or `plan <goal>`, for logs and the task's metadata */
  what: string
}

/** A message on an existing task: the answer to its pending question. */
export interface A2aAnswer {
  kind: 'answer'
  choice: string
}

export type A2aWork = A2aRunRequest | A2aAnswer

export interface ReadOptions {
  maxPartBytes: number
  /** capability a text part goes to */
  defaultCapability?: string
}

/** Capability names a plan can call (the DSL's plain names). */
export const CALLABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/

type Piece = { type: 'text', text: string } | { type: 'data', data: unknown }

function isObject (v: unknown): v is Record<string, unknown> {
  return v != null && typeof v === 'object' && !Array.isArray(v)
}

function pieceOf (part: unknown, i: number): Piece {
  if (!isObject(part)) throw new A2aUnsupportedPartError(`part ${i} is not an object`, { part: i })
  const kind = part.kind
  if (kind === 'text' || (kind === undefined && 'text' in part)) {
    if (typeof part.text !== 'string') throw new A2aUnsupportedPartError(`part ${i}: text must be a string`, { part: i })
    return { type: 'text', text: part.text }
  }
  if (kind === 'data' || (kind === undefined && 'data' in part)) return { type: 'data', data: part.data }
  const named = typeof kind === 'string' ? kind : ['raw', 'url', 'file'].find(k => k in part) ?? 'unknown'
  throw new A2aUnsupportedPartError(`part ${i} is a ${named} part; this node takes text parts and data parts ({capability, input}, {plan, input} or {choice})`, { part: i, kind: named })
}

/** The pieces of a raw JSON message, checked against the limits. */
function piecesOf (message: unknown, maxPartBytes: number): Piece[] {
  if (!isObject(message)) throw new A2aInvalidMessageError('params.message must be an object')
  const parts = message.parts
  if (!Array.isArray(parts) || parts.length === 0) throw new A2aInvalidMessageError('the message has no parts')
  if (parts.length > MAX_PARTS) throw new A2aPartTooLargeError(`the message has ${parts.length} parts; at most ${MAX_PARTS}`, { limit: 'parts', limit_value: MAX_PARTS, measured: parts.length })
  return parts.map((p, i) => {
    const bytes = Buffer.byteLength(JSON.stringify(p) ?? '')
    if (bytes > maxPartBytes) throw new A2aPartTooLargeError(`part ${i} is ${bytes} bytes; at most ${maxPartBytes} (services.a2a.maxPartBytes)`, { part: i, limit: 'maxPartBytes', limit_value: maxPartBytes, measured: bytes })
    return pieceOf(p, i)
  })
}

function inputOf (data: Record<string, unknown>): Record<string, unknown> {
  if (data.input === undefined) return {}
  if (!isObject(data.input)) throw new A2aInvalidMessageError('input must be a JSON object (the run input)')
  return data.input
}

/** The one-step plan that calls `name` with the run input as its input. */
export function oneStepDag (name: string): TaskDag {
  if (!CALLABLE_NAME.test(name)) throw new A2aInvalidMessageError(`capability ${JSON.stringify(name.slice(0, 140))} is not a name a plan can call (letters, digits, _)`)
  return compileDsl(`goal: ${name}\nplan:\n  - step: ${name}()\n`, { file: 'a2a-message.yaml' })
}

function planDag (text: unknown): TaskDag {
  if (typeof text !== 'string' || text.trim() === '') throw new A2aInvalidMessageError('plan must be DSL YAML text')
  try {
    return compileDsl(text, { file: 'a2a-plan.yaml' })
  } catch (err) {
    const e = err as Error
    throw new A2aInvalidMessageError(`the plan does not compile: ${e.name}: ${e.message}`, { error: e.name })
  }
}

/**
 * Reads the message of a `SendMessage` / `message/send` call. `onTask`: the
 * message names a task (`taskId`), so it answers that task's question.
 */
export function readMessage (message: unknown, options: ReadOptions): A2aWork {
  const pieces = piecesOf(message, options.maxPartBytes)
  const onTask = isObject(message) && typeof message.taskId === 'string' && message.taskId !== ''
  const datas = pieces.filter((p): p is Piece & { type: 'data' } => p.type === 'data')
  const text = pieces.filter((p): p is Piece & { type: 'text' } => p.type === 'text').map(p => p.text).join('\n').trim()
  for (const d of datas) {
    if (!isObject(d.data) || !(['capability', 'plan', 'choice'].some(k => k in (d.data as object)))) {
      throw new A2aUnsupportedPartError('a data part must be {capability, input?}, {plan, input?} or {choice}', { keys: isObject(d.data) ? Object.keys(d.data).slice(0, 10) : typeof d.data })
    }
  }
  if (onTask) {
    const choice = datas.map(d => (d.data as Record<string, unknown>).choice).find(c => c !== undefined) ?? (text !== '' ? text : undefined)
    if (typeof choice !== 'string') throw new A2aInvalidMessageError('a message on an existing task answers its question: a text part, or a data part {choice: "<string>"}')
    return { kind: 'answer', choice }
  }
  const work = datas.map(d => d.data as Record<string, unknown>).find(d => 'capability' in d || 'plan' in d)
  if (work != null) {
    if ('capability' in work && 'plan' in work) throw new A2aInvalidMessageError('a data part names either a capability or a plan, not both')
    if ('plan' in work) {
      const dag = planDag(work.plan)
      return { kind: 'run', dag, input: inputOf(work), what: `plan ${dag.name}` }
    }
    if (typeof work.capability !== 'string') throw new A2aInvalidMessageError('capability must be a capability name')
    return { kind: 'run', dag: oneStepDag(work.capability), input: inputOf(work), what: `capability ${work.capability}` }
  }
  if (text === '') throw new A2aInvalidMessageError('the message names no work: send a data part {capability, input} or {plan}, or a text part')
  if (options.defaultCapability == null) throw new A2aInvalidMessageError('this node has no default capability for text messages (services.a2a.defaultCapability): send a data part {capability, input} or {plan}')
  return { kind: 'run', dag: oneStepDag(options.defaultCapability), input: { text }, what: `capability ${options.defaultCapability}` }
}

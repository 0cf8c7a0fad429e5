/**
 * Outbound: an A2A agent as a capability provider. A capability published
 * with `impl: {external: {kind: 'a2a', target: <agent card URL>, options:
 * {skill}}}` is served by this runner: it sends the step's input to the
 * agent with the official SDK client (a data part with the input, plus a
 * text part when the input has a `text` string; the skill id in the
 * message metadata), waits for the task to end, and returns its artifact as
 * the step output. The receipt names the agent card URL and the remote task
 * id in `via`. A remote agent that hangs, vanishes or answers garbage fails
 * the step with a retryable typed error, so the requester fails over.
 */
import { clockSleep, systemClock } from '../../core/clock.js'
import { randomUUID } from 'node:crypto'
import { ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory, RestTransportFactory, type Client } from '@a2a-js/sdk/client'
import { Role, TaskState, type Message, type Part, type Task } from '@a2a-js/sdk'
import { type ExternalImpl, type ExternalRunner, toPlain } from '../../exec/index.js'
import type { ModuleCall, ModuleCallOptions, ModuleResult } from '../../exec/types.js'
import type { Logger } from '../../core/logger.js'
import { A2aAgentTimeoutError, A2aAgentUnavailableError, A2aBadAnswerError, A2aTaskFailedError } from './errors.js'
import { A2A_IMPL_KIND, DEFAULT_CARD_TIMEOUT_MS, DEFAULT_CARD_TTL_MS, DEFAULT_MAX_RESULT_BYTES, DEFAULT_WALL_MS } from './constants.js'
import { dataPart, textPart } from './agent.js'

export interface A2aRunnerInit {
  logger: Logger
  /** @default DEFAULT_CARD_TIMEOUT_MS */
  cardTimeoutMs?: number
  /** @default DEFAULT_CARD_TTL_MS */
  cardTtlMs?: number
  /** @default DEFAULT_MAX_RESULT_BYTES */
  maxResultBytes?: number
  /** bearer token sent to agents, by card URL origin (an agent behind another pl-node's gateway needs its API key) */
  tokens?: Record<string, string>
  now?: () => number
}

const TERMINAL = new Set([TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED, TaskState.TASK_STATE_REJECTED])
const STUCK = new Set([TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED])

/** `{base, path}` of an agent card URL (the SDK resolves the card relative to the base). */
export function splitCardUrl (target: string): { base: string, path: string } {
  let url: URL
  try {
    url = new URL(target)
  } catch {
    throw new A2aAgentUnavailableError(`agent card URL ${JSON.stringify(target)} is not a URL`, { target })
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new A2aAgentUnavailableError(`agent card URL ${target} is not http(s)`, { target })
  return { base: url.origin, path: `${url.pathname.replace(/^\//, '')}${url.search}` }
}

/** The step output of an A2A result: one data part → its value; one text part → {text}; else {parts: [...]}. */
export function outputOfParts (parts: Part[]): unknown {
  const plain = parts.map((p) => {
    const c = p.content
    if (c?.$case === 'data') return { data: toPlain(c.value) }
    if (c?.$case === 'text') return { text: c.value }
    if (c?.$case === 'url') return { url: c.value }
    if (c?.$case === 'raw') return { raw: Buffer.from(c.value).toString('base64'), mediaType: p.mediaType }
    return {}
  })
  if (plain.length === 1 && 'data' in plain[0]) return plain[0].data
  if (plain.length === 1 && 'text' in plain[0]) return { text: plain[0].text }
  return { parts: plain }
}

export class A2aRunner implements ExternalRunner {
  readonly kind = A2A_IMPL_KIND
  private readonly clients = new Map<string, { client: Promise<Client>, at: number }>()
  private readonly now: () => number

  constructor (private readonly init: A2aRunnerInit) {
    this.now = init.now ?? Date.now
  }

  private fetchFor (target: string): typeof fetch {
    const token = this.init.tokens?.[new URL(target).origin]
    if (token == null) return fetch
    return async (input, init) => {
      const headers = new Headers(init?.headers)
      headers.set('authorization', `Bearer ${token}`)
      return await fetch(input, { ...init, headers })
    }
  }

  private async client (target: string, signal: AbortSignal): Promise<Client> {
    const cached = this.clients.get(target)
    if (cached != null && this.now() - cached.at < (this.init.cardTtlMs ?? DEFAULT_CARD_TTL_MS)) return await cached.client
    const { base, path } = splitCardUrl(target)
    const fetchImpl = this.fetchFor(target)
    const cardFetch: typeof fetch = async (input, init) => await fetchImpl(input, { ...init, signal: AbortSignal.any([signal, AbortSignal.timeout(this.init.cardTimeoutMs ?? DEFAULT_CARD_TIMEOUT_MS)]) })
    const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory({ fetchImpl, legacyCompat: { enabled: true } }), new RestTransportFactory({ fetchImpl, legacyCompat: { enabled: true } })],
      cardResolver: new DefaultAgentCardResolver({ fetchImpl: cardFetch, legacyCompat: { enabled: true } })
    }))
    const client = factory.createFromUrl(base, path)
    this.clients.set(target, { client, at: this.now() })
    try {
      return await client
    } catch (err) {
      this.clients.delete(target)
      if (signal.aborted) throw new A2aAgentTimeoutError(`agent card ${target} did not arrive before the step's deadline`, { target }, true)
      throw new A2aAgentUnavailableError(`cannot read the agent card at ${target}: ${(err as Error).message}`, { target }, true)
    }
  }

  async run (impl: ExternalImpl, call: ModuleCall, options: ModuleCallOptions): Promise<ModuleResult> {
    const started = performance.now()
    // the award's wall limit: the pool enforces none for external implementations
    const wall = AbortSignal.timeout(Math.max(1, call.limits.wall_ms ?? DEFAULT_WALL_MS))
    const signal = options.signal != null ? AbortSignal.any([options.signal, wall]) : wall
    const target = impl.target
    const skill = typeof impl.options?.skill === 'string' ? impl.options.skill : undefined
    const client = await this.client(target, signal)
    const { previous_outputs: _prev, ...input } = (call.inputData ?? {}) as Record<string, unknown>
    const parts: Part[] = [dataPart(input)]
    if (typeof input.text === 'string') parts.push(textPart(input.text))
    const message: Message = { messageId: randomUUID(), contextId: '', taskId: '', role: Role.ROLE_USER, parts, metadata: skill != null ? { skill } : {}, extensions: [], referenceTaskIds: [] }
    let result: Message | Task
    try {
      result = await client.sendMessage({ tenant: '', message, configuration: { acceptedOutputModes: [], taskPushNotificationConfig: undefined, returnImmediately: false }, metadata: skill != null ? { skill } : {} }, { signal })
      while ('status' in result && !TERMINAL.has(result.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED) && !STUCK.has(result.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED)) {
        options.onProgress?.(0, undefined, `remote task ${result.id} is ${TaskState[result.status?.state ?? 0]}`)
        // A2A polling of a task (the client here has no subscription): a poll that stops with the step's signal
        await clockSleep(systemClock, 200, signal)
        result = await client.getTask({ tenant: '', id: result.id }, { signal })
      }
    } catch (err) {
      throw this.classify(err, target, signal)
    }
    const via = { kind: A2A_IMPL_KIND, target, ref: 'status' in result ? result.id : result.messageId }
    let output: unknown
    if ('status' in result) {
      const state = result.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED
      if (state !== TaskState.TASK_STATE_COMPLETED) {
        if (STUCK.has(state)) await client.cancelTask({ tenant: '', id: result.id, metadata: {} }, { signal: AbortSignal.timeout(5_000) }).catch(() => {})
        const why = result.status?.message?.parts.map(p => p.content?.$case === 'text' ? p.content.value : '').join(' ').trim()
        throw new A2aTaskFailedError(`agent ${target} ended task ${result.id} ${TaskState[state]}${why != null && why !== '' ? `: ${why.slice(0, 500)}` : ''}`, { target, task: result.id, state: TaskState[state] })
      }
      const artifact = result.artifacts[0]
      if (artifact == null) {
        const msg = result.status?.message
        if (msg == null || msg.parts.length === 0) throw new A2aBadAnswerError(`agent ${target} completed task ${result.id} without an artifact or a message`, { target, task: result.id }, true)
        output = outputOfParts(msg.parts)
      } else {
        output = outputOfParts(artifact.parts)
      }
    } else {
      output = outputOfParts(result.parts)
    }
    const bytes = Buffer.byteLength(JSON.stringify(output ?? null))
    const max = this.init.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES
    if (bytes > max) throw new A2aBadAnswerError(`agent ${target} returned ${bytes} bytes; at most ${max}`, { target, limit: 'maxResultBytes', limit_value: max, measured: bytes }, true)
    return { output, usage: { cpu_ms: 0, wall_ms: Math.round(performance.now() - started), mem_peak_mb: 0 }, via }
  }

  private classify (err: unknown, target: string, signal: AbortSignal): Error {
    const e = err as Error & { cause?: { code?: string } }
    if (signal.aborted) return new A2aAgentTimeoutError(`agent ${target} did not finish before the step's deadline`, { target }, true)
    if (e.name === 'TypeError' && /fetch failed/.test(e.message)) return new A2aAgentUnavailableError(`agent ${target} is unreachable: ${e.cause?.code ?? e.message}`, { target }, true)
    this.clients.delete(target)
    return new A2aBadAnswerError(`agent ${target} answered something that is not an A2A result: ${e.name}: ${e.message.slice(0, 300)}`, { target, error: e.name }, true)
  }
}

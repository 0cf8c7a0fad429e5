/**
 * Addons a module reaches through `context.addons`: `webhook` (HTTP to a URL
 * configured on this node), `callback` (a function registered by the
 * embedding program) and `llm` (an OpenAI-compatible chat-completions
 * endpoint: base URL, model, API key from an environment variable). Modules
 * only name an addon; URLs and keys stay in the node's configuration.
 */
import type { Logger } from 'pino'
import { DEFAULT_ADDON_TIMEOUT_MS } from './constants.js'
import { AddonError, AddonNotConfiguredError } from './errors.js'
import { toJsonValue } from './json.js'
import type { AddonKind } from './types.js'

export interface WebhookConfig {
  url: string
  /** @default 'POST' (the data is the JSON body); GET sends top-level fields as query parameters */
  method?: 'POST' | 'GET' | 'PUT'
  headers?: Record<string, string>
  /** @default 30000 */
  timeout_ms?: number
}

export interface LlmConfig {
  /** e.g. `http://127.0.0.1:8080/v1`; `/chat/completions` is appended */
  base_url: string
  model: string
  /** name of the environment variable holding the API key (sent as a Bearer token) */
  api_key_env?: string
  /** @default 30000 */
  timeout_ms?: number
}

/** What a callback gets besides the module's data. */
export interface CallbackContext { runId: string, step: string, signal: AbortSignal }
export type AddonCallback = (data: unknown, ctx: CallbackContext) => unknown

export interface AddonsConfig {
  webhooks?: Record<string, WebhookConfig>
  llm?: Record<string, LlmConfig>
  callbacks?: Record<string, AddonCallback>
}

export class Addons {
  private readonly webhooks: Record<string, WebhookConfig>
  private readonly llms: Record<string, LlmConfig>
  private readonly callbacks = new Map<string, AddonCallback>()

  constructor (config: AddonsConfig = {}, private readonly logger?: Logger) {
    this.webhooks = { ...config.webhooks }
    this.llms = { ...config.llm }
    for (const [name, fn] of Object.entries(config.callbacks ?? {})) this.callbacks.set(name, fn)
  }

  registerCallback (name: string, fn: AddonCallback): void {
    this.callbacks.set(name, fn)
  }

  unregisterCallback (name: string): void {
    this.callbacks.delete(name)
  }

  async call (kind: AddonKind, name: string, data: unknown, ctx: CallbackContext): Promise<unknown> {
    this.logger?.debug({ kind, name, run: ctx.runId, step: ctx.step }, 'addon call')
    switch (kind) {
      case 'webhook': return await this.webhook(name, data, ctx.signal)
      case 'llm': return await this.llm(name, data, ctx.signal)
      case 'callback': {
        const fn = this.callbacks.get(name)
        if (fn == null) throw notConfigured('callback', name, [...this.callbacks.keys()])
        try {
          return toJsonValue(await fn(data, ctx))
        } catch (err) {
          const e = err as Error & { retryable?: boolean }
          if (e.name === 'InvalidOutputError') throw new AddonError(`callback '${name}' returned a value that is not JSON: ${e.message}`, { kind, name })
          throw new AddonError(`callback '${name}' failed: ${e.message}`, { kind, name, error: e.name }, e.retryable === true)
        }
      }
      default:
        throw notConfigured(String(kind), name, [])
    }
  }

  private async webhook (name: string, data: unknown, signal: AbortSignal): Promise<unknown> {
    const cfg = this.webhooks[name]
    if (cfg == null) throw notConfigured('webhook', name, Object.keys(this.webhooks))
    const method = cfg.method ?? 'POST'
    let url = cfg.url
    let body: string | undefined
    if (method === 'GET') {
      const u = new URL(cfg.url)
      if (data != null && typeof data === 'object' && !Array.isArray(data)) {
        for (const [k, v] of Object.entries(data)) u.searchParams.set(k, typeof v === 'string' ? v : JSON.stringify(v))
      }
      url = u.toString()
    } else {
      body = JSON.stringify(data ?? null)
    }
    return await http('webhook', name, url, { method, headers: { ...(body != null ? { 'content-type': 'application/json' } : {}), ...cfg.headers }, body }, cfg.timeout_ms, signal)
  }

  private async llm (name: string, request: unknown, signal: AbortSignal): Promise<unknown> {
    const cfg = this.llms[name]
    if (cfg == null) throw notConfigured('llm', name, Object.keys(this.llms))
    const req: Record<string, unknown> = typeof request === 'string'
      ? { messages: [{ role: 'user', content: request }] }
      : { ...(request as Record<string, unknown> ?? {}) }
    if (!Array.isArray(req.messages)) throw new AddonError(`llm '${name}': the request needs a messages list (or is a prompt string)`, { kind: 'llm', name })
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (cfg.api_key_env != null) {
      const key = process.env[cfg.api_key_env]
      if (key == null || key === '') throw new AddonNotConfiguredError(`llm '${name}': the environment variable ${cfg.api_key_env} holding its API key is not set`, { kind: 'llm', name })
      headers.authorization = `Bearer ${key}`
    }
    const url = cfg.base_url.replace(/\/+$/, '') + '/chat/completions'
    const res = await http('llm', name, url, { method: 'POST', headers, body: JSON.stringify({ ...req, model: cfg.model, stream: false }) }, cfg.timeout_ms, signal) as any
    const message = res?.choices?.[0]?.message
    if (message == null || typeof message !== 'object') throw new AddonError(`llm '${name}': the response has no choices[0].message`, { kind: 'llm', name })
    return { content: message.content ?? null, message, model: res.model ?? cfg.model, usage: res.usage ?? null }
  }
}

function notConfigured (kind: string, name: string, known: string[]): AddonNotConfiguredError {
  return new AddonNotConfiguredError(`no ${kind} addon named '${name}' is configured on this node${known.length > 0 ? ` (known: ${known.join(', ')})` : ''}`, { kind, name })
}

async function http (kind: AddonKind, name: string, url: string, init: RequestInit, timeoutMs: number | undefined, signal: AbortSignal): Promise<unknown> {
  const ms = timeoutMs ?? DEFAULT_ADDON_TIMEOUT_MS
  const timeout = AbortSignal.timeout(ms)
  let res: Response
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.any([signal, timeout]) })
  } catch (err) {
    if (signal.aborted) throw signal.reason
    if (timeout.aborted) throw new AddonError(`${kind} '${name}' did not answer within ${ms} ms`, { kind, name, timeout_ms: ms }, true)
    const e = err as Error & { cause?: { code?: string } }
    throw new AddonError(`${kind} '${name}' failed: ${e.cause?.code ?? e.message}`, { kind, name }, true)
  }
  const text = await res.text()
  if (!res.ok) {
    throw new AddonError(`${kind} '${name}' answered HTTP ${res.status}: ${text.slice(0, 200)}`, { kind, name, status: res.status }, res.status === 429 || res.status >= 500)
  }
  if ((res.headers.get('content-type') ?? '').includes('json')) {
    try {
      return JSON.parse(text)
    } catch {
      throw new AddonError(`${kind} '${name}' answered with invalid JSON`, { kind, name })
    }
  }
  return text
}

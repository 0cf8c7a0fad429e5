/**
 * Live routes: `GET /ws` (WebSocket) and `GET /runs/:id/events/stream`
 * (Server-Sent Events). Both stream a run's events as they happen; the
 * socket also submits runs, answers decisions and executes a single module
 * of a registered workflow. Messages are JSON; every client op may carry an
 * `id` that the answer repeats.
 *
 *   → {op:'subscribe', run, since?}                 ← {type:'subscribed', run} then {type:'event', run, seq, event}
 *   → {op:'unsubscribe', run}                       ← {type:'unsubscribed', run}
 *   → {op:'submit', graph_id?, dsl? | workflow?+bundle?, input?}   ← {type:'submitted', run} (and subscribed)
 *   → {op:'decide', run, step, choice}              ← {type:'decided', run, step}
 *   → {op:'execute_module', workflow_id, module, input?, version?} ← {type:'module_result', workflow_id, module, output, usage}
 *   ← {type:'error', id?, error:{name, message}}
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import type { GatewayContext } from './context.js'
import { onBehalfOf, recordRequester } from './context.js'
import type { Principal, Scope } from './types.js'
import type { Sink } from './events.js'
import { hasScope } from './auth.js'
import { graphFrom } from './graph.js'
import { errorReply, type SocketJsonGuard } from './server.js'
import { parseGuardedJson, RequestTooDeepError } from '../core/json-guard.js'
import { loadWorkflow } from '../workflow/index.js'
import { effectiveLimits } from '../exec/index.js'
import { InvalidSocketMessageError, MissingScopeError, NoGraphError, UpgradeRequiredError, WorkflowModuleNotFoundError } from './errors.js'
import { MAX_SUBSCRIPTIONS_PER_SOCKET, WS_CLOSE_SLOW_CONSUMER } from './constants.js'
import { runIdParams, sinceParam, withErrors } from './schemas.js'

type Msg = Record<string, unknown> & { op?: unknown, id?: unknown }

function str (m: Msg, key: string, required = true): string | undefined {
  const v = m[key]
  if (v === undefined && !required) return undefined
  if (typeof v !== 'string' || v === '' || v.length > 4096) throw new InvalidSocketMessageError(`"${key}" must be a non-empty string`, { field: key })
  return v
}

function obj (m: Msg, key: string): Record<string, unknown> | undefined {
  const v = m[key]
  if (v === undefined) return undefined
  if (v == null || typeof v !== 'object' || Array.isArray(v)) throw new InvalidSocketMessageError(`"${key}" must be a JSON object`, { field: key })
  return v as Record<string, unknown>
}

function need (p: Principal | undefined, scope: Scope): void {
  if (p == null || !hasScope(p, scope)) throw new MissingScopeError(`this operation needs the "${scope}" scope`, { scope })
}

export function streamRoutes (ctx: GatewayContext) {
  return async (app: FastifyInstance): Promise<void> => {
    app.route({
      method: 'GET',
      url: '/ws',
      config: { scope: 'read', tokenInQuery: true },
      schema: {
        operationId: 'websocket',
        summary: 'WebSocket: follow runs live, submit runs, answer decisions, execute one module of a registered workflow (protocol in docs/GATEWAY.md)',
        tags: ['live'],
        querystring: { type: 'object', additionalProperties: false, properties: { access_token: { type: 'string', maxLength: 256 } } },
        response: withErrors({ 101: { description: 'switching to the WebSocket protocol', type: 'null' } })
      },
      // a plain GET (no Upgrade header) is told what this route is
      handler: async () => { throw new UpgradeRequiredError('GET /ws is a WebSocket endpoint: send an Upgrade: websocket request') },
      wsHandler: (socket: WebSocket, req: FastifyRequest) => { new SocketSession(ctx, socket, req.principal, req.server.plJsonGuard).start() }
    })

    app.get<{ Params: { id: string }, Querystring: { since?: string } }>('/runs/:id/events/stream', {
      config: { scope: 'read', tokenInQuery: true },
      schema: {
        operationId: 'streamRunEvents',
        summary: 'Server-Sent Events: the run\'s events, then live ones, until the client goes away',
        tags: ['live'],
        params: runIdParams,
        querystring: { type: 'object', additionalProperties: false, properties: { since: sinceParam, access_token: { type: 'string', maxLength: 256 } } },
        response: withErrors({ 200: { description: 'text/event-stream of JSON event messages', type: 'string' } })
      }
    }, async (req, reply) => {
      await ctx.executor.get(req.params.id) // unknown run: 404 before the stream starts
      const raw = reply.raw
      reply.hijack()
      raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' })
      const sink: Sink = {
        buffered: () => raw.writableLength,
        write: (text) => { raw.write(`data: ${text}\n\n`) },
        drop: () => { raw.end('event: dropped\ndata: {"reason":"slow consumer"}\n\n'); raw.destroy() },
        end: () => { raw.end() }
      }
      const off = ctx.hub.subscribe(req.params.id, sink, Number(req.query.since ?? 0))
      raw.on('close', off)
    })
  }
}

class SocketSession {
  private readonly subs = new Map<string, () => void>()
  private readonly sink: Sink
  private closed = false

  constructor (private readonly ctx: GatewayContext, private readonly socket: WebSocket, private readonly principal: Principal | undefined, private readonly guard: SocketJsonGuard) {
    this.sink = {
      buffered: () => socket.bufferedAmount,
      write: (text) => { socket.send(text) },
      drop: () => {
        this.unsubscribeAll()
        socket.close(WS_CLOSE_SLOW_CONSUMER, 'slow consumer: buffer limit reached')
        // a reader that stopped reading never completes the closing handshake
        setTimeout(() => { socket.terminate() }, 10_000).unref()
      },
      end: () => { socket.close(1001, 'node stopping') }
    }
  }

  start (): void {
    this.socket.on('message', (data, isBinary) => { void this.onMessage(data.toString(), isBinary) })
    this.socket.on('close', () => { this.closed = true; this.unsubscribeAll() })
    // a message over the size limit (ws closes with 1009) or a broken frame: counted by its code
    this.socket.on('error', (err) => {
      this.guard.reject((err as { code?: string }).code ?? 'SocketError')
      this.unsubscribeAll()
    })
  }

  private unsubscribeAll (): void {
    for (const off of this.subs.values()) off()
    this.subs.clear()
  }

  private send (msg: unknown): void {
    if (!this.closed) this.ctx.hub.send(this.sink, msg)
  }

  private async onMessage (text: string, isBinary: boolean): Promise<void> {
    let msg: Msg | undefined
    try {
      try {
        msg = this.parse(text, isBinary)
      } catch (err) {
        // refused before any op saw it, as a body refused by the parser: counted
        this.guard.reject((err as Error).name)
        throw err
      }
      const answer = await this.handle(msg)
      this.send({ ...answer, ...(msg.id !== undefined ? { id: msg.id } : {}) })
    } catch (err) {
      const { body } = await errorReply(err)
      this.send({ type: 'error', ...(msg?.id !== undefined ? { id: msg.id } : {}), error: body.error })
    }
  }

  /** A message as JSON, depth-checked before parsing (the gateway's one guard, `api.maxJsonDepth`). */
  private parse (text: string, isBinary: boolean): Msg {
    if (isBinary) throw new InvalidSocketMessageError('messages are JSON text, not binary')
    let msg: unknown
    try {
      msg = parseGuardedJson(text, this.guard.maxDepth, 'WebSocket message')
    } catch (err) {
      if (err instanceof RequestTooDeepError) throw err
      throw new InvalidSocketMessageError('message is not JSON')
    }
    if (msg == null || typeof msg !== 'object' || Array.isArray(msg)) throw new InvalidSocketMessageError('message must be a JSON object with an "op"')
    return msg as Msg
  }

  private subscribe (run: string, since = 0): void {
    if (this.subs.has(run)) return
    if (this.subs.size >= MAX_SUBSCRIPTIONS_PER_SOCKET) throw new InvalidSocketMessageError(`a socket follows at most ${MAX_SUBSCRIPTIONS_PER_SOCKET} runs`, { max: MAX_SUBSCRIPTIONS_PER_SOCKET })
    this.send({ type: 'subscribed', run })
    this.subs.set(run, this.ctx.hub.subscribe(run, this.sink, since))
  }

  private async handle (m: Msg): Promise<Record<string, unknown>> {
    switch (m.op) {
      case 'subscribe': {
        need(this.principal, 'read')
        const run = str(m, 'run') as string
        await this.ctx.executor.get(run)
        const since = m.since === undefined ? 0 : Number(m.since)
        if (!Number.isInteger(since) || since < 0) throw new InvalidSocketMessageError('"since" must be a non-negative integer')
        this.subscribe(run, since)
        return { type: 'ack', op: 'subscribe', run }
      }
      case 'unsubscribe': {
        const run = str(m, 'run') as string
        this.subs.get(run)?.()
        this.subs.delete(run)
        return { type: 'unsubscribed', run }
      }
      case 'submit': {
        need(this.principal, 'submit')
        const graphId = str(m, 'graph_id', false) ?? str(m, 'workflow_id', false) ?? 'ws'
        const input = obj(m, 'input') ?? {}
        const graph = await graphFrom(graphId, { dsl: str(m, 'dsl', false), workflow: obj(m, 'workflow'), bundle: str(m, 'bundle', false), version: str(m, 'version', false) }, { blocks: this.ctx.store.blocks, workflows: this.ctx.workflows })
        let run: string
        try {
          run = await this.ctx.executor.submit(graph.dag, input, { modules: graph.bundle?.modules, ...(graph.origin === 'registry' && graph.source != null ? { source: graph.source } : {}), ...onBehalfOf(this.principal), cleanup: graph.cleanup })
        } catch (err) {
          await graph.cleanup()
          throw err
        }
        await recordRequester(this.ctx, run, this.principal)
        this.subscribe(run)
        return { type: 'submitted', run }
      }
      case 'decide': {
        need(this.principal, 'submit')
        const run = str(m, 'run') as string
        const step = str(m, 'step') as string
        if (typeof m.choice !== 'string') throw new InvalidSocketMessageError('"choice" must be a string')
        await this.ctx.executor.decide(run, step, m.choice)
        return { type: 'decided', run, step }
      }
      case 'execute_module':
        need(this.principal, 'submit')
        return await this.executeModule(m)
      default:
        throw new InvalidSocketMessageError(`unknown op ${JSON.stringify(m.op)} (subscribe, unsubscribe, submit, decide, execute_module)`, { op: m.op })
    }
  }

  /** Runs one module of a registered workflow with the given input, outside any run. */
  private async executeModule (m: Msg): Promise<Record<string, unknown>> {
    const workflowId = str(m, 'workflow_id') as string
    const key = str(m, 'module') as string
    const input = obj(m, 'input') ?? {}
    const version = str(m, 'version', false)
    if (this.ctx.workflows == null) throw new NoGraphError(`this node runs no workflow registry to resolve "${workflowId}"`, { id: workflowId })
    const resolved = await this.ctx.workflows.resolve(workflowId, version != null ? { version } : {})
    const wf = await loadWorkflow(resolved.path)
    try {
      const spec = wf.bundle?.modules[key]
      const step = Object.values(wf.dag.steps).find(s => s.module?.key === key)
      if (spec == null || step == null) throw new WorkflowModuleNotFoundError(`workflow ${workflowId} has no module "${key}" (modules: ${Object.keys(wf.bundle?.modules ?? {}).join(', ')})`, { workflow: workflowId, module: key })
      const result = await this.ctx.executor.pool.runModule(spec, {
        name: key,
        parameters: step.parameters,
        settings: step.settings,
        globalSettings: wf.dag.globalSettings,
        globalParameters: wf.dag.globalParameters,
        inputData: input,
        limits: effectiveLimits(step.limits)
      }, {})
      return { type: 'module_result', workflow_id: workflowId, module: key, output: result.output, usage: result.usage }
    } finally {
      await wf.cleanup()
    }
  }
}

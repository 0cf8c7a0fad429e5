/**
 * The gateway's own HTTP routes: runs (list, view, step outputs, events,
 * explanations, decide, cancel, receipts), ad-hoc graphs (estimate, deploy),
 * blocks, API keys. Handlers only translate: every answer comes from the
 * executor, negotiation, receipts, store or key store.
 */
import type { FastifyInstance } from 'fastify'
import { cidOfBytes, parseCid, RAW } from '../core/encoding.js'
import { runView } from '../exec/view.js'
import type { GatewayContext } from './context.js'
import { onBehalfOf, recordRequester } from './context.js'
import { graphFrom, type GraphBody } from './graph.js'
import { estimateDag } from './estimate.js'
import { ServiceUnavailableError, StepOutputNotFoundError, MalformedBodyError } from './errors.js'
import { anyObject, cidString, graphBody, runIdParams, sinceParam, withErrors } from './schemas.js'

const tags = (t: string): string[] => [t]

export function gatewayRoutes (ctx: GatewayContext) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/health', {
      config: { scope: 'public' },
      schema: { operationId: 'health', summary: 'Liveness', tags: tags('meta'), security: [], response: withErrors({ 200: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } } }) }
    }, async () => ({ ok: true }))

    app.get('/runs', {
      config: { scope: 'read' },
      schema: { operationId: 'listRuns', summary: 'Every run in this node\'s journal', tags: tags('runs'), response: withErrors({ 200: { type: 'array', items: anyObject } }) }
    }, async () => await ctx.executor.list())

    app.get<{ Params: { id: string } }>('/runs/:id', {
      config: { scope: 'read' },
      schema: { operationId: 'getRun', summary: 'A run: record, steps, output, pending decisions, requester of record', tags: tags('runs'), params: runIdParams, response: withErrors({ 200: anyObject }) }
    }, async (req) => {
      const view = await runView(ctx.executor, req.params.id)
      const requester = await ctx.requesters.get(req.params.id)
      return requester != null ? { ...view, requester } : view
    })

    app.get<{ Params: { id: string, step: string } }>('/runs/:id/outputs/:step', {
      config: { scope: 'read' },
      schema: {
        operationId: 'getTaskOutput',
        summary: 'The output of one finished step (the seed\'s get_task_output)',
        tags: tags('runs'),
        params: { type: 'object', additionalProperties: false, required: ['id', 'step'], properties: { id: runIdParams.properties.id, step: { type: 'string', minLength: 1, maxLength: 256 } } },
        response: withErrors({ 200: { type: 'object', required: ['run', 'step', 'cid'], properties: { run: { type: 'string' }, step: { type: 'string' }, cid: { type: 'string' }, output: {} } } })
      }
    }, async (req) => {
      const { steps } = await ctx.executor.get(req.params.id)
      const step = steps.find(s => s.key === req.params.step) ?? steps.find(s => s.step === req.params.step && s.output != null)
      if (step?.output == null) throw new StepOutputNotFoundError(`run ${req.params.id} has no finished step ${req.params.step}${step != null ? ` (it is ${step.state})` : ''}`, { run: req.params.id, step: req.params.step })
      return { run: req.params.id, step: step.key, cid: step.output, output: await ctx.store.blocks.get(step.output) }
    })

    app.get<{ Params: { id: string }, Querystring: { since?: string } }>('/runs/:id/events', {
      config: { scope: 'read' },
      schema: {
        operationId: 'getRunEvents',
        summary: 'Events kept for a run since a sequence number (poll with `next`)',
        tags: tags('runs'),
        params: runIdParams,
        querystring: { type: 'object', additionalProperties: false, properties: { since: sinceParam } },
        response: withErrors({ 200: { type: 'object', properties: { events: { type: 'array', items: anyObject }, next: { type: 'integer' } } } })
      }
    }, async (req) => {
      await ctx.executor.get(req.params.id)
      return ctx.executor.events(req.params.id, Number(req.query.since ?? 0))
    })

    app.get<{ Params: { id: string } }>('/runs/:id/explanations', {
      config: { scope: 'read' },
      schema: { operationId: 'getRunExplanations', summary: 'Why each negotiated step went to its provider: every answer, bid and attempt', tags: tags('runs'), params: runIdParams, response: withErrors({ 200: { type: 'object', properties: { run: { type: 'string' }, steps: { type: 'array', items: anyObject } } } }) }
    }, async (req) => {
      if (ctx.explanations == null) throw new ServiceUnavailableError('this node runs no negotiation service')
      await ctx.executor.get(req.params.id)
      return { run: req.params.id, steps: await ctx.explanations(req.params.id) }
    })

    app.post<{ Params: { id: string }, Body: { step: string, choice: string } }>('/runs/:id/decide', {
      config: { scope: 'submit' },
      schema: {
        operationId: 'decide',
        summary: 'Answers the question a step waits on',
        tags: tags('runs'),
        params: runIdParams,
        body: { type: 'object', additionalProperties: false, required: ['step', 'choice'], properties: { step: { type: 'string', minLength: 1, maxLength: 256 }, choice: { type: 'string', maxLength: 1024 } } },
        response: withErrors({ 200: { type: 'object', properties: { ok: { type: 'boolean' } } } })
      }
    }, async (req) => {
      await ctx.executor.decide(req.params.id, req.body.step, req.body.choice)
      return { ok: true }
    })

    app.post<{ Params: { id: string } }>('/runs/:id/cancel', {
      config: { scope: 'submit' },
      schema: { operationId: 'cancelRun', summary: 'Cancels a run (running steps are killed)', tags: tags('runs'), params: runIdParams, response: withErrors({ 200: anyObject }) }
    }, async (req) => await ctx.executor.cancel(req.params.id))

    app.get<{ Params: { id: string } }>('/runs/:id/receipts', {
      config: { scope: 'read' },
      schema: {
        operationId: 'getRunReceipts',
        summary: 'The run\'s signed receipts and their root CID (verifiable offline: pl receipts verify)',
        tags: tags('runs'),
        params: runIdParams,
        response: withErrors({ 200: { type: 'object', required: ['v', 'run', 'root', 'receipts'], properties: { v: { type: 'integer' }, run: { type: 'string' }, root: { type: 'string' }, receipts: { type: 'array', items: { $ref: 'pl:SignedReceipt.v1#' } } } } })
      }
    }, async (req) => {
      if (ctx.receipts == null) throw new ServiceUnavailableError('this node runs no receipts service')
      await ctx.executor.get(req.params.id)
      return await ctx.receipts.export(req.params.id)
    })

    app.post<{ Params: { id: string }, Body: GraphBody & { input?: Record<string, unknown> } }>('/dsl-graph/:id/estimate', {
      config: { scope: 'submit' },
      schema: {
        operationId: 'estimateGraph',
        summary: 'Dry-run negotiation of a graph: candidates, the chosen provider per step, critical-path time, total price',
        tags: tags('graphs'),
        params: runIdParams,
        body: graphBody,
        response: withErrors({ 200: anyObject })
      }
    }, async (req) => {
      const deps = ctx.estimate
      if (deps == null) throw new ServiceUnavailableError('estimates need the negotiation service, which this node does not run')
      const body = req.body ?? {}
      const graph = await graphFrom(req.params.id, body, { blocks: ctx.store.blocks, workflows: ctx.workflows })
      try {
        return await estimateDag(graph.dag, graph.bundle?.modules, body.input ?? {}, deps)
      } finally {
        await graph.cleanup()
      }
    })

    app.post<{ Params: { id: string }, Body: GraphBody }>('/dsl-graph/:id/graph', {
      config: { scope: 'read' },
      schema: {
        operationId: 'compileGraph',
        summary: 'The Task DAG of a graph (DSL text, workflow.json + bundle, a bundle, or a registered workflow) without running it',
        tags: tags('graphs'),
        params: runIdParams,
        body: graphBody,
        response: withErrors({ 200: { type: 'object', required: ['dag'], properties: { dag: anyObject } } })
      }
    }, async (req) => {
      const graph = await graphFrom(req.params.id, req.body ?? {}, { blocks: ctx.store.blocks, workflows: ctx.workflows })
      try {
        return { dag: graph.dag }
      } finally {
        await graph.cleanup()
      }
    })

    app.post<{ Params: { id: string }, Body: GraphBody & { input?: Record<string, unknown>, wait?: boolean } }>('/dsl-graph/:id/deploy', {
      config: { scope: 'submit' },
      schema: {
        operationId: 'deployGraph',
        summary: 'Runs a graph sent in the body (DSL text, or workflow.json + stored bundle CID) without registering it',
        tags: tags('graphs'),
        params: runIdParams,
        body: graphBody,
        response: withErrors({ 200: anyObject })
      }
    }, async (req) => {
      const body = req.body ?? {}
      const graph = await graphFrom(req.params.id, body, { blocks: ctx.store.blocks, workflows: ctx.workflows })
      let runId: string
      try {
        runId = await ctx.executor.submit(graph.dag, body.input ?? {}, {
          modules: graph.bundle?.modules,
          ...(graph.origin === 'registry' && graph.source != null ? { source: graph.source } : {}),
          ...onBehalfOf(req.principal),
          cleanup: graph.cleanup
        })
      } catch (err) {
        await graph.cleanup()
        throw err
      }
      await recordRequester(ctx, runId, req.principal)
      if (body.wait !== true) return { runId }
      await ctx.executor.wait(runId, { untilWaiting: true })
      return { runId, ...await runView(ctx.executor, runId) }
    })

    app.post<{ Body: unknown }>('/blocks', {
      config: { scope: 'submit' },
      schema: {
        operationId: 'putBlock',
        summary: 'Stores a JSON document ({"doc": ...}) or raw bytes (application/zip, application/octet-stream: a workflow bundle); answers its CID',
        tags: tags('blocks'),
        response: withErrors({ 200: { type: 'object', required: ['cid'], properties: { cid: cidString } } })
      }
    }, async (req) => {
      if (Buffer.isBuffer(req.body)) {
        const bytes = new Uint8Array(req.body)
        const cid = cidOfBytes(bytes, RAW).toString()
        await ctx.store.blocks.putBytes(cid, bytes)
        return { cid }
      }
      const b = req.body as { doc?: unknown } | null
      if (b == null || typeof b !== 'object' || Array.isArray(b) || !('doc' in b) || Object.keys(b).length !== 1) throw new MalformedBodyError('POST /blocks takes {"doc": <JSON document>} or raw bytes (application/zip, application/octet-stream)')
      return { cid: await ctx.store.blocks.put(b.doc) }
    })

    app.get<{ Params: { cid: string } }>('/blocks/:cid', {
      config: { scope: 'read' },
      schema: {
        operationId: 'getBlock',
        summary: 'A stored JSON document by CID',
        tags: tags('blocks'),
        params: { type: 'object', additionalProperties: false, required: ['cid'], properties: { cid: { type: 'string', minLength: 1, maxLength: 200 } } },
        response: withErrors({ 200: { type: 'object', properties: { cid: { type: 'string' }, doc: {} } } })
      }
    }, async (req) => {
      const cid = parseCid(req.params.cid).toString()
      return { cid, doc: await ctx.store.blocks.get(cid) }
    })

    const keyInfo = { type: 'object', properties: { name: { type: 'string' }, kind: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } }, created: { type: 'integer' }, id: { type: 'string' }, agent: { type: 'string' } } }
    app.get('/api-keys', {
      config: { scope: 'admin' },
      schema: { operationId: 'listApiKeys', summary: 'API keys and registered agents (never the keys themselves)', tags: tags('keys'), response: withErrors({ 200: { type: 'array', items: keyInfo } }) }
    }, async () => await ctx.keys.list())
    app.post<{ Body: { name: string, scopes: string[], agent?: string } }>('/api-keys', {
      config: { scope: 'admin' },
      schema: {
        operationId: 'createApiKey',
        summary: 'Creates an API key (shown once) or registers an agent PeerId',
        tags: tags('keys'),
        body: { type: 'object', additionalProperties: false, required: ['name', 'scopes'], properties: { name: { type: 'string', minLength: 1, maxLength: 64 }, scopes: { type: 'array', minItems: 1, maxItems: 4, items: { type: 'string', enum: ['read', 'submit', 'publish', 'admin'] } }, agent: { type: 'string', maxLength: 128 } } },
        response: withErrors({ 200: { type: 'object', properties: { ...keyInfo.properties, key: { type: 'string' } } } })
      }
    }, async (req) => req.body.agent != null
      ? await ctx.keys.registerAgent({ name: req.body.name, agent: req.body.agent, scopes: req.body.scopes })
      : await ctx.keys.create({ name: req.body.name, scopes: req.body.scopes }))
    app.delete<{ Params: { name: string } }>('/api-keys/:name', {
      config: { scope: 'admin' },
      schema: { operationId: 'revokeApiKey', summary: 'Revokes a key or agent by name', tags: tags('keys'), params: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 64 } } }, response: withErrors({ 200: keyInfo }) }
    }, async (req) => await ctx.keys.revoke(req.params.name))
  }
}

/**
 * The inbound MCP server: the mesh as MCP tools. One tool per capability the
 * node can broker (inputSchema / outputSchema = the capability's io
 * schemas), plus find_capabilities, run_plan, get_run, decide and
 * verify_receipts. A call that runs something waits until the run ends (or
 * waits on a human decision), sends `notifications/progress` for its events
 * when the caller gave a progress token, and answers the run id and receipt
 * root in `_meta` and in the structured result. Bad calls (unknown tool,
 * arguments failing the schema, missing scope) are JSON-RPC errors, counted.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import { cidStringOf } from '../../core/encoding.js'
import { errorToData } from '../../core/errors.js'
import type { Metrics } from '../../core/index.js'
import type { ExecEvent } from '../../exec/types.js'
import { VERSION } from '../../cli/version.js'
import type { Mesh, RunOptions, RunResult } from './mesh.js'
import { McpInvalidArgumentsError, McpScopeError, McpUnknownToolError } from './errors.js'

/** `_meta` keys of tool results. */
export const META_RUN = 'pervasive.link/run'
export const META_RECEIPT_ROOT = 'pervasive.link/receiptRoot'

export interface McpServerDeps {
  mesh: Mesh
  metrics?: Metrics
}

/** The caller's scope check (`submit` runs, `read` the rest); @default everything allowed */
export type ScopeCheck = (scope: 'read' | 'submit') => boolean

const obj = (properties: Record<string, unknown>, required: string[] = []): Tool['inputSchema'] => ({ type: 'object', properties, required, additionalProperties: false }) as Tool['inputSchema']
const runIdProp = { type: 'string', minLength: 1, maxLength: 128, description: 'a run id (answered by every tool that runs something)' }

const BUILTIN: Record<string, { scope: 'read' | 'submit', tool: Tool }> = {
  find_capabilities: {
    scope: 'read',
    tool: {
      name: 'find_capabilities',
      description: 'Find providers of a capability in the mesh (catalog + DHT): name, version, provider, price, attrs.',
      inputSchema: obj({ name: { type: 'string', minLength: 1, maxLength: 128 }, version: { type: 'string', maxLength: 64 }, local: { type: 'boolean', description: 'no network: this node and its catalog only' }, timeout_ms: { type: 'integer', minimum: 1, maximum: 60000 } }, ['name'])
    }
  },
  run_plan: {
    scope: 'submit',
    tool: {
      name: 'run_plan',
      description: 'Run a DSL plan (YAML text: goal, inputs, plan of capability steps) across the mesh; answers the run id, its output and the receipts root.',
      inputSchema: obj({ dsl: { type: 'string', minLength: 1, maxLength: 1_000_000 }, input: { type: 'object' }, wait: { type: 'boolean', description: 'wait until the run ends or asks a question (default true)' } }, ['dsl'])
    }
  },
  get_run: {
    scope: 'read',
    tool: { name: 'get_run', description: 'A run\'s state, output, pending questions and receipts root; with wait, until it ends or asks.', inputSchema: obj({ run: runIdProp, wait: { type: 'boolean' } }, ['run']) }
  },
  decide: {
    scope: 'submit',
    tool: { name: 'decide', description: 'Answer the question a run\'s step waits on (see get_run → waiting); then waits for the run as run_plan does.', inputSchema: obj({ run: runIdProp, step: { type: 'string', minLength: 1, maxLength: 256 }, choice: { type: 'string', maxLength: 1024 } }, ['run', 'step', 'choice']) }
  },
  verify_receipts: {
    scope: 'read',
    tool: { name: 'verify_receipts', description: 'Verify the signed receipts of a run this node requested (or a receipts export document): signatures, chain, root.', inputSchema: obj({ run: runIdProp, export: { type: 'object' } }) }
  }
}

/** An MCP tool's input schema must be an object schema: a capability's own, or an open object. */
function objectSchema (schema: Record<string, unknown>): Tool['inputSchema'] {
  return (schema.type === 'object' ? schema : { type: 'object' }) as Tool['inputSchema']
}

export class McpTools {
  // created at the first tool schema to compile: constructing ajv costs ~100 ms of a node's start
  private ajvInstance: Ajv2020 | undefined
  private get ajv (): Ajv2020 {
    this.ajvInstance ??= new Ajv2020({ strict: false, allErrors: false, validateFormats: false })
    return this.ajvInstance
  }

  private readonly validators = new Map<string, ValidateFunction | null>()

  constructor (private readonly d: McpServerDeps) {}

  private reject (err: Error & { details?: Record<string, unknown> }, code: number): McpError {
    this.d.metrics?.reject('mcp', err.name)
    return new McpError(code, err.message, { name: err.name, ...(err.details != null ? { details: err.details } : {}) })
  }

  private validator (schema: Record<string, unknown>): ValidateFunction | null {
    const key = cidStringOf(schema)
    let v = this.validators.get(key)
    if (v === undefined) {
      try { v = this.ajv.compile(schema) } catch { v = null }
      if (this.validators.size > 1000) this.validators.clear()
      this.validators.set(key, v)
    }
    return v
  }

  async list (): Promise<Tool[]> {
    const tools: Tool[] = Object.values(BUILTIN).map(b => b.tool)
    for (const c of await this.d.mesh.capabilities()) {
      if (BUILTIN[c.name] != null) continue
      tools.push({
        name: c.name,
        title: `${c.name}@${c.version}`,
        description: `${c.description ?? `Capability ${c.name}`} (runs as a one-step negotiated run in the Pervasive.link mesh; the result carries the run id and receipts root)`,
        inputSchema: objectSchema(c.input),
        ...(c.output.type === 'object' ? { outputSchema: c.output as Tool['outputSchema'] } : {})
      })
    }
    return tools
  }

  async call (name: string, args: Record<string, unknown>, run: Omit<RunOptions, 'onRun'>, allowed?: ScopeCheck): Promise<CallToolResult> {
    const builtin = BUILTIN[name]
    let schema: Record<string, unknown>
    let capability: { output: Record<string, unknown> } | undefined
    if (builtin != null) {
      schema = builtin.tool.inputSchema
    } else {
      const caps = await this.d.mesh.capabilities()
      const c = caps.find(x => x.name === name)
      if (c == null) throw this.reject(new McpUnknownToolError(`unknown tool ${JSON.stringify(name).slice(0, 200)}: this node brokers no such capability (tools/list names the tools)`, { tool: name.slice(0, 200) }), ErrorCode.InvalidParams)
      schema = objectSchema(c.input)
      capability = c
    }
    const scope = builtin?.scope ?? 'submit'
    if (allowed != null && !allowed(scope)) throw this.reject(new McpScopeError(`tool ${name} needs the "${scope}" scope, which this API key lacks`, { scope }), ErrorCode.InvalidRequest)
    const validate = this.validator(schema)
    if (validate != null && !validate(args)) {
      const errors = (validate.errors ?? []).slice(0, 5).map(e => ({ path: e.instancePath, message: e.message }))
      throw this.reject(new McpInvalidArgumentsError(`arguments of tool ${name} fail its input schema: ${errors.map(e => `${e.path === '' ? '(root)' : e.path} ${e.message ?? ''}`).join('; ')}`, { errors }), ErrorCode.InvalidParams)
    }
    try {
      switch (name) {
        case 'find_capabilities': {
          const found = await this.d.mesh.find({ name: args.name as string, ...(args.version != null ? { version: args.version as string } : {}) }, { ...(args.local === true ? { localOnly: true } : {}), ...(args.timeout_ms != null ? { timeoutMs: args.timeout_ms as number } : {}), ...(run.signal != null ? { signal: run.signal } : {}) })
          return { content: [{ type: 'text', text: JSON.stringify(found) }], structuredContent: { found } }
        }
        case 'run_plan': return runAnswer(await this.d.mesh.runPlan(args.dsl as string, (args.input ?? {}) as Record<string, unknown>, { ...run, wait: args.wait !== false }))
        case 'get_run': return runAnswer(await this.d.mesh.follow(args.run as string, { ...run, wait: args.wait === true }))
        case 'decide': return runAnswer(await this.d.mesh.decide(args.run as string, args.step as string, args.choice as string, run))
        case 'verify_receipts': {
          const r = await this.d.mesh.verifyReceipts(args)
          return { content: [{ type: 'text', text: JSON.stringify(r) }], structuredContent: r, _meta: { [META_RUN]: r.run, [META_RECEIPT_ROOT]: r.root } }
        }
        default: return runAnswer(await this.d.mesh.runCapability(name, args, run), capability)
      }
    } catch (err) {
      // the call was well-formed; what failed is the work: a tool error the model can read
      const e = errorToData(err)
      this.d.metrics?.reject('mcp', e.name)
      return { isError: true, content: [{ type: 'text', text: `${e.name}: ${e.message}` }] }
    }
  }
}

/** A run as a tool result: the capability's output as structuredContent, the run id and receipts root in `_meta`. */
function runAnswer (r: RunResult, capability?: { output: Record<string, unknown> }): CallToolResult {
  const meta = { [META_RUN]: r.run, ...(r.receiptRoot != null ? { [META_RECEIPT_ROOT]: r.receiptRoot } : {}) }
  const failed = r.state === 'failed' || r.state === 'cancelled'
  const content: CallToolResult['content'] = [{ type: 'text', text: JSON.stringify(r) }]
  if (failed) return { isError: true, content, _meta: meta }
  if (capability != null) {
    // a capability tool whose output schema is an object schema promises structuredContent of that shape
    if (capability.output.type === 'object') {
      if (r.state === 'succeeded' && r.output != null && typeof r.output === 'object' && !Array.isArray(r.output)) return { content, structuredContent: r.output as Record<string, unknown>, _meta: meta }
      return { isError: r.state !== 'succeeded', content, _meta: meta }
    }
    return { content, _meta: meta }
  }
  return { content, structuredContent: r as unknown as Record<string, unknown>, _meta: meta }
}

/** Progress notifications of a run's events (monotonic counter; the message says what happened). */
export function progressOf (ev: ExecEvent): string | undefined {
  switch (ev.type) {
    case 'pl:step:started': return `step ${ev.key} started (attempt ${ev.attempt})`
    case 'pl:step:progress': return `step ${ev.key}: ${ev.message ?? `${ev.n}${ev.total != null ? `/${ev.total}` : ''}`}`
    case 'pl:step:finished': return `step ${ev.key} finished`
    case 'pl:step:failed': return `step ${ev.key} failed: ${ev.error.name}${ev.willRetry ? ' (retrying)' : ''}`
    case 'pl:run:waiting-human': return `step ${ev.key} asks: ${ev.question}`
    case 'pl:run:finished': return 'run finished'
    case 'pl:run:failed': return `run failed: ${ev.error.name}`
    default: return undefined
  }
}

/** A fresh MCP Server (one per HTTP request or stdio session) answering with `tools`. */
export function buildMcpServer (tools: McpTools, allowed?: ScopeCheck): Server {
  const server = new Server({ name: 'pl-node', version: VERSION }, { capabilities: { tools: { listChanged: false } }, instructions: 'Tools of a Pervasive.link mesh node: each capability tool runs a negotiated, receipted one-step run; run_plan runs DSL plans; results carry the run id and receipts root in _meta.' })
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: await tools.list() }))
  server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
    const token = req.params._meta?.progressToken
    let n = 0
    // notifications go out one after another, and all of them before the result: sent unchained, the last
    // ("run finished") could reach the client after the answer (seen through the stdio proxy)
    let sent = Promise.resolve()
    const onEvent = token == null
      ? undefined
      : (ev: ExecEvent): void => {
          const message = progressOf(ev)
          if (message == null) return
          const progress = ++n
          sent = sent.then(async () => { await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, message } }) }).catch(() => {})
        }
    const result = await tools.call(req.params.name, (req.params.arguments ?? {}), { signal: extra.signal, ...(onEvent != null ? { onEvent } : {}) }, allowed)
    await sent
    return result
  })
  return server
}

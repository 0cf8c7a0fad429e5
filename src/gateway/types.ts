/**
 * Types shared by the agent gateway (src/gateway) and the route plugins other
 * areas register on it (src/registry/routes.ts). A route declares the scope
 * it needs in its Fastify route config (`config: { scope: 'publish' }`, or
 * `'public'`); the gateway authenticates every request before the handler
 * runs, refuses missing scopes (401/403) and sets `request.principal`.
 * Errors a handler throws answer `{error: {name, message, details?}}` with
 * the error's `statusCode` when it is a 4xx, else a status derived from its name.
 */
import type { FastifyPluginAsync } from 'fastify'

export type Scope = 'read' | 'submit' | 'publish' | 'admin'

export interface Principal {
  /** the API key's name, or the agent's PeerId for signed requests */
  name: string
  kind: 'api-key' | 'agent'
  scopes: Scope[]
  /** PeerId of an agent that signs its own requests: the requester of record */
  agent?: string
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal
  }
  interface FastifyContextConfig {
    scope?: Scope | 'public'
  }
}

/** A registered workflow, as the gateway's executor routes need it. */
export interface ResolvedWorkflow {
  record: { workflow_id: string, version: string, bundle: string, publisher: string }
  /** a local path the executor can run: a workflow.json folder, a .zip bundle or a DSL .yaml plan */
  path: string
}

/** What the registry offers the gateway: registered workflows, fetched from the mesh when not held here. */
export interface RegisteredWorkflowSource {
  resolve: (workflowId: string, options?: { version?: string, signal?: AbortSignal }) => Promise<ResolvedWorkflow>
}

/** A set of routes another area adds to the gateway. */
export type GatewayPlugin = FastifyPluginAsync

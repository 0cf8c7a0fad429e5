/**
 * Helpers for the A2A bridge tests: real nodes wired as the daemon wires
 * them (daemonServices, so the a2a service and the gateway run as in
 * pl-node), an official SDK client that sends a gateway API key, and
 * message builders in the SDK's object form.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { ClientFactory, ClientFactoryOptions, JsonRpcTransportFactory, type Client } from '@a2a-js/sdk/client'
import { Role, type Message, type Part, type SendMessageRequest } from '@a2a-js/sdk'
import type { TestMesh } from '../helpers/mesh.js'
import { a2a, type A2aInit } from '../../src/bridges/a2a/index.js'
import { gw, startMesh } from '../gateway/helpers.js'

export { gw }

/** N daemon-wired nodes (test/gateway/helpers.ts), node 0 serving the gateway; `a2aInit(i)` configures each node's bridge. */
export async function startA2aMesh (nodes: number, a2aInit: (i: number) => A2aInit = () => ({})): Promise<TestMesh> {
  return await startMesh(nodes, (i) => i === 0 ? {} : undefined, () => [], (i) => ({ a2a: a2a(a2aInit(i)) }))
}

/** A fetch that sends `Authorization: Bearer <key>`. */
export function keyedFetch (key: string | undefined): typeof fetch {
  return async (input, init) => {
    const headers = new Headers(init?.headers)
    if (key != null) headers.set('authorization', `Bearer ${key}`)
    return await fetch(input, { ...init, headers })
  }
}

/** The official SDK client for the node at `base`, authenticated with `key`. */
export async function a2aClient (base: string, key?: string): Promise<Client> {
  const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, { transports: [new JsonRpcTransportFactory({ fetchImpl: keyedFetch(key) })] }))
  return await factory.createFromUrl(base)
}

export const data = (value: unknown): Part => ({ content: { $case: 'data', value }, metadata: {}, filename: '', mediaType: 'application/json' })
export const text = (value: string): Part => ({ content: { $case: 'text', value }, metadata: {}, filename: '', mediaType: 'text/plain' })

export function message (parts: Part[], taskId = ''): Message {
  return { messageId: randomUUID(), contextId: '', taskId, role: Role.ROLE_USER, parts, metadata: {}, extensions: [], referenceTaskIds: [] }
}

export function send (parts: Part[], options: { taskId?: string, returnImmediately?: boolean } = {}): SendMessageRequest {
  return { tenant: '', message: message(parts, options.taskId), configuration: { acceptedOutputModes: [], taskPushNotificationConfig: undefined, returnImmediately: options.returnImmediately ?? false }, metadata: {} }
}

/** A module folder whose `eval` body is `body`. */
export async function moduleDir (root: string, name: string, body: string): Promise<string> {
  const dir = join(root, name)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'function.mjs'), `export default class M {\n  async eval (parameters, inputData, context) {\n${body}\n  }\n}\n`)
  return dir
}

/** Raw JSON-RPC POST (for hostile bodies the SDK client would not send). */
export async function rpc (base: string, body: unknown, options: { key?: string, headers?: Record<string, string>, raw?: string } = {}): Promise<{ status: number, body: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers }
  if (options.key != null) headers.authorization = `Bearer ${options.key}`
  const res = await fetch(`${base}/a2a`, { method: 'POST', headers, body: options.raw ?? JSON.stringify(body) })
  const t = await res.text()
  let json: unknown
  try { json = JSON.parse(t) } catch { json = t }
  return { status: res.status, body: json }
}

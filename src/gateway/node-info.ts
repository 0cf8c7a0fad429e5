/**
 * `GET /node`: what an operator looks at first — this peer, its connections
 * (direction, latency), the DHT routing table, gossip topics and mesh peers,
 * rejected-input counters and the metrics that matter. Read from libp2p and
 * the node's metrics registry; nothing here is computed for the console
 * alone (an API client gets the same document).
 */
import type { PlLibp2p } from '../net/index.js'
import type { Metrics } from '../core/index.js'
import type { FastifyInstance } from 'fastify'
import { NODE_INFO_MAX_PINGS, NODE_INFO_PING_TIMEOUT_MS } from './constants.js'
import { withErrors } from './schemas.js'

export interface NodeInfoDeps {
  peerId: string
  libp2p: PlLibp2p
  metrics: Metrics
  startedAt: number
  now: () => number
}

/** The metrics the console charts (others stay on the control API's /metrics). */
export const NODE_METRICS = ['pl_peers', 'pl_rpc_total', 'pl_gossip_messages_total', 'pl_rejected_total', 'pl_exec_steps_total', 'pl_exec_runs_total']

export interface NodeInfo {
  peerId: string
  addrs: string[]
  startedAt: number
  uptimeMs: number
  connections: Array<{ peer: string, addr: string, direction: string, openedAt: number, latencyMs?: number, streams: number }>
  dht: { routingTable: number, mode?: string }
  gossip: { topics: Array<{ topic: string, meshPeers: number, subscribers: number }> }
  rejected: Record<string, number>
  metrics: Array<{ name: string, help: string, type: string, values: Array<{ labels: Record<string, string | number>, value: number }> }>
}

export async function nodeInfo (d: NodeInfoDeps): Promise<NodeInfo> {
  const { libp2p } = d
  const conns = libp2p.getConnections()
  let pings = 0
  const connections = await Promise.all(conns.map(async (conn) => {
    let latencyMs = conn.rtt
    // a connection identify has not measured yet: one bounded ping, for the first few only
    if (latencyMs == null && pings++ < NODE_INFO_MAX_PINGS) {
      latencyMs = await libp2p.services.ping.ping(conn.remotePeer, { signal: AbortSignal.timeout(NODE_INFO_PING_TIMEOUT_MS) }).catch(() => undefined)
    }
    return {
      peer: conn.remotePeer.toString(),
      addr: conn.remoteAddr.toString(),
      direction: conn.direction,
      openedAt: conn.timeline.open,
      ...(latencyMs != null ? { latencyMs: Math.round(latencyMs * 100) / 100 } : {}),
      streams: conn.streams.length
    }
  }))
  // getMeshPeers is on the implementation, not the GossipSub interface
  const pubsub = libp2p.services.pubsub as typeof libp2p.services.pubsub & { getMeshPeers?: (topic: string) => string[] }
  const topics = pubsub.getTopics().sort().map(topic => ({ topic, meshPeers: pubsub.getMeshPeers?.(topic).length ?? 0, subscribers: pubsub.getSubscribers(topic).length }))
  const dht = libp2p.services.dht as unknown as { routingTable?: { size?: number }, getMode?: () => string }
  const metrics = (await d.metrics.registry.getMetricsAsJSON())
    .filter(m => NODE_METRICS.includes(m.name))
    .map(m => ({ name: m.name, help: m.help, type: String(m.type), values: m.values.map(v => ({ labels: { ...v.labels } as Record<string, string | number>, value: v.value })) }))
  return {
    peerId: d.peerId,
    addrs: libp2p.getMultiaddrs().map(a => a.toString()),
    startedAt: d.startedAt,
    uptimeMs: d.now() - d.startedAt,
    connections,
    dht: { routingTable: dht.routingTable?.size ?? 0, ...(typeof dht.getMode === 'function' ? { mode: String(dht.getMode()) } : {}) },
    gossip: { topics },
    rejected: await d.metrics.rejections(),
    metrics
  }
}

const count = { type: 'integer', minimum: 0 } as const
const str = { type: 'string' } as const

/** Response schema of `GET /node`. */
export const nodeInfoSchema = {
  type: 'object',
  required: ['peerId', 'addrs', 'startedAt', 'uptimeMs', 'connections', 'dht', 'gossip', 'rejected', 'metrics'],
  properties: {
    peerId: str,
    addrs: { type: 'array', items: str },
    startedAt: count,
    uptimeMs: count,
    connections: {
      type: 'array',
      items: {
        type: 'object',
        required: ['peer', 'addr', 'direction', 'openedAt', 'streams'],
        properties: { peer: str, addr: str, direction: { type: 'string', enum: ['inbound', 'outbound'] }, openedAt: count, latencyMs: { type: 'number', description: 'round trip in ms (libp2p RTT, else one ping)' }, streams: count }
      }
    },
    dht: { type: 'object', required: ['routingTable'], properties: { routingTable: count, mode: str } },
    gossip: { type: 'object', required: ['topics'], properties: { topics: { type: 'array', items: { type: 'object', required: ['topic', 'meshPeers', 'subscribers'], properties: { topic: str, meshPeers: count, subscribers: count } } } } },
    rejected: { type: 'object', additionalProperties: { type: 'number' }, description: '`area/ErrorName` → inputs refused' },
    metrics: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'help', 'type', 'values'],
        properties: { name: str, help: str, type: str, values: { type: 'array', items: { type: 'object', required: ['labels', 'value'], properties: { labels: { type: 'object', additionalProperties: true }, value: { type: 'number' } } } } }
      }
    }
  }
} as const

/** `GET /node` (read scope). */
export function nodeRoutes (deps: NodeInfoDeps) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/node', {
      config: { scope: 'read' },
      schema: { operationId: 'getNode', summary: 'This node: peer id, addresses, uptime, connections (direction, latency), DHT routing table, gossip topics and mesh peers, rejected inputs, key metrics', tags: ['node'], response: withErrors({ 200: nodeInfoSchema }) }
    }, async () => await nodeInfo(deps))
  }
}

/**
 * Per-node metrics (prom-client, one Registry per node so that several nodes
 * in one process do not collide). Every rejected input is counted here by
 * area and error name.
 */
import { Registry, Counter, Gauge, Histogram } from 'prom-client'

export class Metrics {
  readonly registry = new Registry()
  readonly rejected: Counter<'area' | 'reason'>
  readonly rpc: Counter<'protocol' | 'direction' | 'status'>
  readonly gossip: Counter<'topic' | 'result'>
  readonly gossipPublished: Counter<'topic'>
  readonly peers: Gauge
  readonly rpcDuration: Histogram<'protocol'>

  constructor () {
    this.rejected = new Counter({ name: 'pl_rejected_total', help: 'Inputs refused, by area and error name', labelNames: ['area', 'reason'], registers: [this.registry] })
    this.rpc = new Counter({ name: 'pl_rpc_total', help: 'Request-response calls by protocol, direction and status', labelNames: ['protocol', 'direction', 'status'], registers: [this.registry] })
    this.gossip = new Counter({ name: 'pl_gossip_messages_total', help: 'Gossip messages validated, by topic and result', labelNames: ['topic', 'result'], registers: [this.registry] })
    this.gossipPublished = new Counter({ name: 'pl_gossip_published_total', help: 'Gossip messages this node published (its own, not forwarded), by topic', labelNames: ['topic'], registers: [this.registry] })
    this.peers = new Gauge({ name: 'pl_peers', help: 'Open peer connections', registers: [this.registry] })
    this.rpcDuration = new Histogram({ name: 'pl_rpc_duration_seconds', help: 'Outbound call duration', labelNames: ['protocol'], buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60], registers: [this.registry] })
  }

  reject (area: string, reason: string): void {
    this.rejected.inc({ area, reason })
  }

  /** Rejections so far as `{ 'area/reason': count }` (for tests and /health). */
  async rejections (): Promise<Record<string, number>> {
    const out: Record<string, number> = {}
    const m = await this.rejected.get()
    for (const v of m.values) out[`${String(v.labels.area)}/${String(v.labels.reason)}`] = v.value
    return out
  }
}

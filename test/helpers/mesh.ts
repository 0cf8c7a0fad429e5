/**
 * TestMesh: N real PlNodes in this process, on real TCP over 127.0.0.1,
 * node 0 as the bootstrap of the others.
 */
import { PlNode, type PlNodeInit, type ServiceFactory } from '../../src/node.js'
import { tempDir } from './tmp.js'

export interface MeshInit {
  nodes: number
  services?: (index: number) => Record<string, ServiceFactory>
  gossip?: (index: number) => boolean
  controlApi?: boolean
  extra?: (index: number) => Partial<PlNodeInit>
}

export class TestMesh {
  readonly nodes: PlNode[] = []
  private readonly cleanups: Array<() => Promise<void>> = []
  private readonly dirs: string[] = []

  private constructor (private readonly init: MeshInit) {}

  static async start (init: MeshInit): Promise<TestMesh> {
    const mesh = new TestMesh(init)
    try {
      for (let i = 0; i < init.nodes; i++) {
        const { dir, cleanup } = await tempDir(`pl-mesh-${i}-`)
        mesh.cleanups.push(cleanup)
        mesh.dirs.push(dir)
        const node = await mesh.create(i)
        mesh.nodes.push(node)
        await node.start()
      }
    } catch (err) {
      await mesh.stop()
      throw err
    }
    return mesh
  }

  private async create (i: number): Promise<PlNode> {
    return await PlNode.create({
      dataDir: this.dirs[i],
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: i === 0 ? [] : this.nodes[0].addrs(),
      localSwarm: true,
      controlApi: this.init.controlApi ?? false,
      gossip: this.init.gossip?.(i) ?? true,
      services: this.init.services?.(i),
      ...this.init.extra?.(i)
    })
  }

  /** Stops node `i` (not the bootstrap) and starts it again on the same data dir, with new services from the factories. */
  async restart (i: number): Promise<PlNode> {
    if (i === 0) throw new Error('the bootstrap node is not restarted (the others dial its address)')
    await this.nodes[i].stop()
    const node = await this.create(i)
    this.nodes[i] = node
    await node.start()
    return node
  }

  /** Waits until every node is connected to at least `min` peers. */
  async connected (min = 1, timeoutMs = 20_000): Promise<void> {
    await waitFor(() => this.nodes.every(n => n.libp2p.getPeers().length >= min), timeoutMs, `every node connected to ${min} peers`)
  }

  /**
   * Nodes 0 (sender) and 1 (receiver), both in `topic` through raw gossipsub, once the sender can publish to the
   * receiver: the receiver sees the sender's subscription, which came over the sender's outbound stream (gossipsub
   * drops, silently, what it publishes to a peer it has no outbound stream to yet). The receiver subscribes first,
   * through its own gossip layer (`subscribe`), so what it is sent is checked and counted as in a node.
   */
  async gossipPair (topic: string, subscribe: (receiver: PlNode) => void): Promise<[PlNode, PlNode]> {
    await this.connected(1)
    const [sender, receiver] = this.nodes
    subscribe(receiver)
    sender.libp2p.services.pubsub.subscribe(topic)
    await waitFor(() => sender.libp2p.services.pubsub.getSubscribers(topic).length >= 1, 20_000, 'subscription to propagate')
    await waitFor(() => receiver.libp2p.services.pubsub.getSubscribers(topic).some(p => p.equals(sender.libp2p.peerId)), 20_000, 'the sender\'s subscription to reach the receiver')
    return [sender, receiver]
  }

  async stop (): Promise<void> {
    await Promise.allSettled(this.nodes.map(async n => { await n.stop() }))
    for (const c of this.cleanups) await c()
  }
}

/** Polls `cond` every 50 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor (cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await cond()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

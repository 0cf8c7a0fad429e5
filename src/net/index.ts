/**
 * The network: the libp2p factory (tcp, ws, noise, yamux, identify, ping,
 * kad-dht, gossipsub, relay), framed request-response (`Rpc`,
 * `defineProtocol`), verified gossip (`Gossip`), block fetch (`BlockFetcher`
 * on /pl/fetch), the bootstrap keeper, peer clocks (/pl/time) and network
 * files. The node's assembly, `libp2p.ts` (`createPlLibp2p`: every transport
 * and service) and `bootstrap-keeper.ts`, are surfaces of their own, so that
 * an area using RPC or gossip does not load them (their types are here).
 * Code on a cold path imports the light entries (`errors.ts`, `peer-addr.ts`,
 * `network.ts`; docs/ARCHITECTURE.md "Areas and their surfaces").
 *
 * @example
 * const echo = defineProtocol({ id: '/pl/echo/1.0.0', handler: async (req) => ({ status: 'OK', body: req }) })
 * await rpc.handle(echo)
 * const res = await rpc.request(peerId, echo, { hi: 1 })
 */
export * from './errors.js'
export * from './frames.js'
export * from './rpc.js'
export * from './gossip.js'
export * from './fetch.js'
export type { PlLibp2p, PlServices, Libp2pInit } from './libp2p.js'
export * from './peer-addr.js'
export * from './network.js'
export * from './announce.js'
export type { BootstrapState, BootstrapKeeperInit, BootstrapKeeperComponents, KeeperLibp2p } from './bootstrap-keeper.js'
export * from './time.js'

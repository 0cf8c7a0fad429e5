/**
 * Swarms of real pl-node processes: the launcher (N nodes on 127.0.0.1,
 * node 0 the bootstrap), the compose swarm (docker), the profiles of which
 * node offers what, the demo and its report. `cli.ts` (`npm run swarm`) and
 * `docker.ts` are entry points, not part of the surface.
 *
 * @example
 * const swarm = await Swarm.start({ nodes: 5, root: '/tmp/swarm' })
 * await swarm.kill(3); await swarm.restart(3)
 * await swarm.stop()
 */
export * from './launcher.js'
export * from './compose.js'
export * from './profiles.js'
export * from './demo.js'
export * from './report.js'

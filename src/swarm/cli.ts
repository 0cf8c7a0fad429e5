#!/usr/bin/env node
/**
 * `scripts/swarm [--nodes N] [--root DIR]`: starts a local swarm of pl-node
 * processes and keeps it running until Ctrl-C.
 */
import '../cli/require-node.js'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { Swarm } from './launcher.js'
import { swarmNodeSpec } from './profiles.js'
import { action } from '../cli/util.js'

const program = new Command('swarm')
  .description('Start N pl-node processes on 127.0.0.1 (node 0 is the bootstrap, the others join it), each with the sample capabilities of its profile; Ctrl-C stops them all.')
  .option('-n, --nodes <n>', 'number of nodes', '5')
  .option('--root <dir>', 'folder for data dirs and logs (default: a new temp folder)')
  .option('--log-level <level>', 'log level of the nodes', 'info')
  .action(action(async (opts: { nodes: string, root?: string, logLevel: string }) => {
    const nodes = Number(opts.nodes)
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > 50) throw new TypeError('--nodes must be 1..50')
    const root = opts.root ?? await mkdtemp(join(tmpdir(), 'pl-swarm-'))
    const swarm = await Swarm.start({ nodes, root, logLevel: opts.logLevel, spec: (i) => swarmNodeSpec(i) })
    for (const m of swarm.members) process.stdout.write(`node ${m.index}  ${m.peerId ?? '?'}  data ${m.dataDir}  control ${m.control ?? '-'}\n`)
    process.stdout.write(`\nbootstrap: ${swarm.bootstrapAddr}\nlogs: ${root}/node-*.log\nCtrl-C to stop.\n`)
    let stopping = false
    const stop = (): void => {
      if (stopping) process.exit(130)
      stopping = true
      process.stdout.write('stopping the swarm…\n')
      swarm.stop().then(() => process.exit(0), () => process.exit(1))
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  }))

await program.parseAsync(process.argv)

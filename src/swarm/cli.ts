#!/usr/bin/env node
/**
 * `scripts/swarm [--nodes N] [--root DIR]`: starts a local swarm of pl-node
 * processes and keeps it running until Ctrl-C.
 */
import '../cli/require-node.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { Swarm } from './launcher.js'
import { swarmNodeSpec } from './profiles.js'
import { action, watchParent } from '../cli/index.js'

const program = new Command('swarm')
  .description('Start N pl-node processes on 127.0.0.1 (node 0 is the bootstrap, the others join it), each with the sample capabilities of its profile; Ctrl-C stops them all.')
  .option('-n, --nodes <n>', 'number of nodes', '5')
  .option('--root <dir>', 'folder for data dirs and logs (default: a new temp folder)')
  .option('--log-level <level>', 'log level of the nodes', 'info')
  .option('--keep', 'keep the temp folder (data dirs and logs) after stopping, and print its path')
  .action(action(async (opts: { nodes: string, root?: string, logLevel: string, keep?: boolean }) => {
    const nodes = Number(opts.nodes)
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > 50) throw new TypeError('--nodes must be 1..50')
    const root = opts.root ?? await mkdtemp(join(tmpdir(), 'pl-swarm-'))
    // a temp folder we made goes away with the swarm; a --root the user gave stays
    const removeRoot = opts.root == null && opts.keep !== true
    const cleanup = async (): Promise<void> => {
      if (removeRoot) await rm(root, { recursive: true, force: true })
      else process.stdout.write(`kept ${root}\n`)
    }
    let stopping = false
    let swarm: Swarm | undefined
    const stop = (why: string): void => {
      if (stopping) process.exit(130)
      stopping = true
      process.stdout.write(`${why}: stopping the swarm…\n`)
      void (swarm?.stop() ?? Promise.resolve()).then(cleanup).then(() => process.exit(0), () => process.exit(1))
    }
    process.on('SIGINT', () => { stop('SIGINT') })
    process.on('SIGTERM', () => { stop('SIGTERM') })
    process.on('SIGHUP', () => { stop('SIGHUP') })
    // started from a script that died (npm, a shell killed by SIGKILL): do not linger
    watchParent(() => { stop('parent exited') })
    try {
      swarm = await Swarm.start({ nodes, root, logLevel: opts.logLevel, spec: (i) => swarmNodeSpec(i) })
    } catch (err) {
      await cleanup()
      throw err
    }
    if (stopping) return
    for (const m of swarm.members) process.stdout.write(`node ${m.index}  ${m.peerId ?? '?'}  pid ${m.proc?.pid ?? '?'}  data ${m.dataDir}  control ${m.control ?? '-'}\n`)
    process.stdout.write(`\nbootstrap: ${swarm.bootstrapAddr}\nroot: ${root}${removeRoot ? ' (removed at stop; --keep keeps it)' : ''}\nlogs: ${root}/node-*.log\nCtrl-C to stop.\n`)
  }))

await program.parseAsync(process.argv)

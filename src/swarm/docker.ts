#!/usr/bin/env node
/**
 * `npm run swarm:docker`: the demo across containers. Builds the image,
 * starts docker/compose.yaml (bootstrap + 4 providers), waits for every
 * health check, runs the SummarizeDocument plan on the bootstrap (inside its
 * container, through its control API), prints the result, who ran each step
 * and the verified receipts, and tears everything down (also on Ctrl-C).
 */
import '../cli/require-node.js'
import { Command } from 'commander'
import { action } from '../cli/index.js'
import { ComposeSwarm, COMPOSE_SERVICES, dockerUnavailable } from './compose.js'

async function main (o: { project: string, keep: boolean, json: boolean }): Promise<number> {
  const log = (line: string): void => { process.stderr.write(line + '\n') }
  const missing = dockerUnavailable()
  if (missing != null) throw new Error(`${missing} (docs/DOCKER.md says how to start one)`)
  const swarm = new ComposeSwarm({ project: o.project, log: line => { log(`  ${line}`) } })
  let tornDown = false
  const teardown = async (): Promise<void> => {
    if (tornDown || o.keep) return
    tornDown = true
    log(`removing the swarm (${o.project}: containers, network, volumes)`)
    await swarm.down()
  }
  const interrupt = (sig: string): void => {
    log(`${sig}: stopping the swarm…`)
    void teardown().finally(() => process.exit(130))
  }
  process.once('SIGINT', interrupt)
  process.once('SIGTERM', interrupt)
  // elapsed wall time for the operator's log (a CLI tool, no component clock)
  const started = Date.now()
  const since = (): string => `${((Date.now() - started) / 1000).toFixed(0)} s`
  try {
    log('building the image (docker/Dockerfile; the base image is made locally when it cannot be pulled)')
    await swarm.build()
    log(`[${since()}] starting bootstrap + 4 providers (project ${o.project})`)
    await swarm.up()
    await swarm.waitHealthy()
    const peers = await swarm.peerIds()
    log(`[${since()}] all healthy:`)
    COMPOSE_SERVICES.forEach((s, i) => { log(`  node ${i} = ${s.padEnd(10)} ${peers[i]}`) })
    // a longer deadline than the plan's 30 s: five containers on a busy machine start their module runners slowly
    const args = ['node', 'dist/src/swarm/demo.js', '--attach', '/data', '--deadline', 'PT300S', '--peers', peers.join(',')]
    if (o.json) args.push('--json')
    const res = await swarm.exec('bootstrap', args, { allowFail: true, timeoutMs: 600_000 })
    process.stderr.write(res.stderr)
    process.stdout.write(res.stdout)
    log(`[${since()}] run ${res.code === 0 ? 'succeeded, receipts verified' : 'FAILED'}`)
    if (res.code !== 0) log(await swarm.logs([], 30))
    return res.code === 0 ? 0 : 1
  } finally {
    await teardown()
    if (o.keep) log(`swarm kept running: docker-compose -f docker/compose.yaml -p ${o.project} down -v removes it`)
  }
}

const program = new Command('swarm:docker')
  .description('Build the image, start the compose swarm (bootstrap + 4 providers), run the SummarizeDocument plan through the bootstrap, print the result and verified receipts, tear down.')
  .option('-p, --project <name>', 'compose project name', 'pl-swarm')
  .option('--keep', 'leave the swarm running', false)
  .option('--json', 'print the whole run as JSON', false)
  .action(action(async (o: { project: string, keep: boolean, json: boolean }) => {
    process.exitCode = await main(o)
  }))
await program.parseAsync(process.argv)

/**
 * The compose swarm (docker/compose.yaml) driven from the host: builds the
 * one image (making its base image first with scripts/docker-base.sh when
 * it cannot be pulled), brings the project up, waits for every service's
 * health check, runs commands in containers, kills one, and tears it all
 * down. Used by `npm run swarm:docker` and test/docker/. Works with the
 * compose v2 plugin (`docker compose`) and docker-compose v1.
 *
 * @example
 * const swarm = new ComposeSwarm({ project: 'pl-demo' })
 * await swarm.build(); await swarm.up(); await swarm.waitHealthy()
 * await swarm.exec('bootstrap', ['pl', 'status'])
 * await swarm.down()
 */
import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { clockSleep, systemClock } from '../core/clock.js'
import { packageRoot } from '../core/paths.js'
import { PlError } from '../core/errors.js'

/** A docker / compose command failed; its output is in the message. */
export class ComposeCommandError extends PlError {
  override name = 'ComposeCommandError'
}

/** The services of docker/compose.yaml, the bootstrap first. */
export const COMPOSE_SERVICES = ['bootstrap', 'provider-1', 'provider-2', 'provider-3', 'provider-4']
/** The image every service runs (compose.yaml `image:`; PL_IMAGE overrides). */
export const COMPOSE_IMAGE = 'pl-node:local'

export interface ComposeSwarmInit {
  /** compose project name: containers, network and volumes are named after it */
  project: string
  /** @default <repo>/docker/compose.yaml */
  file?: string
  /** progress lines */
  log?: (line: string) => void
  /** PEM file of an extra CA the image build trusts (npm behind a TLS-intercepting proxy); env PL_EXTRA_CA_FILE */
  extraCaFile?: string
}

export interface CommandResult { code: number | null, stdout: string, stderr: string }

/** Runs a command to completion, collecting its output (stderr also streamed to `onLine` when given). */
export async function runCommand (cmd: string[], options: { env?: NodeJS.ProcessEnv, timeoutMs?: number, onLine?: (line: string) => void, cwd?: string } = {}): Promise<CommandResult> {
  const proc = spawn(cmd[0], cmd.slice(1), { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  proc.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  proc.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
    if (options.onLine != null) for (const line of d.toString().split('\n')) if (line.trim() !== '') options.onLine(line)
  })
  const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs ?? 600_000)
  const code = await new Promise<number | null>((resolve) => {
    proc.once('error', (err) => { stderr += String(err); resolve(127) })
    proc.once('close', (c) => { resolve(c) })
  })
  clearTimeout(timer)
  return { code, stdout, stderr }
}

/** `docker compose` when the v2 plugin is there, else `docker-compose` (v1); undefined when neither runs. */
export function composeCommand (): string[] | undefined {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose']
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose']
  return undefined
}

/** Why no Docker engine can be used here, or undefined when `docker info` answers and a compose tool runs. */
export function dockerUnavailable (): string | undefined {
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8' })
  if (info.error != null) return `the docker CLI is not installed (${info.error.message})`
  if (info.status !== 0) return `no Docker engine answers: ${(info.stderr ?? '').trim().split('\n')[0]}`
  if (composeCommand() == null) return 'neither `docker compose` (v2 plugin) nor `docker-compose` (v1) is installed'
  return undefined
}

export class ComposeSwarm {
  readonly project: string
  readonly file: string
  private readonly compose: string[]
  private readonly log: (line: string) => void
  private readonly extraCaFile?: string

  constructor (init: ComposeSwarmInit) {
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(init.project)) throw new TypeError(`compose project names are lowercase letters, digits, - and _: ${init.project}`)
    const compose = composeCommand()
    if (compose == null) throw new ComposeCommandError('neither `docker compose` nor `docker-compose` is installed (apt-get install -y docker-compose)')
    this.compose = compose
    this.project = init.project
    this.file = init.file ?? join(packageRoot(), 'docker', 'compose.yaml')
    this.log = init.log ?? (() => {})
    this.extraCaFile = init.extraCaFile ?? process.env.PL_EXTRA_CA_FILE
  }

  /** Runs `compose -f FILE -p PROJECT <args>`; ComposeCommandError when it fails (unless `allowFail`). */
  async run (args: string[], options: { timeoutMs?: number, allowFail?: boolean, stream?: boolean } = {}): Promise<CommandResult> {
    const env: NodeJS.ProcessEnv = {}
    if (process.env.PL_EXTRA_CA_CERT == null) {
      // as $(cat file) gives it: the same build arg keeps the build cache
      const pem = this.extraCaFile != null && this.extraCaFile !== '' ? readFileSync(this.extraCaFile, 'utf8').trimEnd() : localCaCerts()
      if (pem !== '') env.PL_EXTRA_CA_CERT = pem
    }
    const res = await runCommand([...this.compose, '-f', this.file, '-p', this.project, ...args], { env, timeoutMs: options.timeoutMs, onLine: options.stream === true ? this.log : undefined })
    if (res.code !== 0 && options.allowFail !== true) {
      throw new ComposeCommandError(`${this.compose.join(' ')} ${args.join(' ')} exited with ${String(res.code)}: ${(res.stderr + res.stdout).trim().split('\n').slice(-15).join('\n')}`, { args, code: res.code })
    }
    return res
  }

  /** Makes the base image when it cannot be pulled, then builds the one image all services run. */
  async build (): Promise<void> {
    const base = await runCommand(['bash', join(packageRoot(), 'scripts', 'docker-base.sh')], { onLine: this.log, timeoutMs: 1_800_000 })
    if (base.code !== 0) throw new ComposeCommandError(`scripts/docker-base.sh failed: ${base.stderr.trim().split('\n').slice(-10).join('\n')}`)
    await this.run(['build', 'bootstrap'], { timeoutMs: 1_800_000, stream: true })
  }

  /** Starts every service in the background (compose starts providers once the bootstrap is healthy). */
  async up (services: string[] = []): Promise<void> {
    await this.run(['up', '-d', '--no-build', ...services], { timeoutMs: 600_000, stream: true })
  }

  async containerId (service: string): Promise<string> {
    // --all: compose v2 lists only running containers without it (v1 lists stopped ones too), and a killed one is asked about
    const id = (await this.run(['ps', '--all', '-q', service])).stdout.trim()
    if (id === '') throw new ComposeCommandError(`no container for service ${service} in project ${this.project}`, { service })
    return id
  }

  /** `docker inspect` health status of a service's container: starting, healthy, unhealthy, or the state when it has stopped. */
  async health (service: string): Promise<string> {
    const id = await this.containerId(service)
    const res = await runCommand(['docker', 'inspect', '-f', '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}', id])
    const [state, health] = res.stdout.trim().split(' ')
    return state === 'running' ? (health ?? 'running') : state
  }

  /** Polls until every service's health check passes; ComposeCommandError naming the laggards after `timeoutMs`. */
  async waitHealthy (services: string[] = COMPOSE_SERVICES, timeoutMs = 300_000): Promise<void> {
    // wall time on purpose: docker compose is waited on from the CLI (no component clock)
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const states = await Promise.all(services.map(async s => [s, await this.health(s).catch(() => 'missing')] as const))
      const waiting = states.filter(([, h]) => h !== 'healthy')
      if (waiting.length === 0) return
      const dead = waiting.filter(([, h]) => h === 'exited' || h === 'dead')
      if (dead.length > 0 || Date.now() > deadline) {
        const logs = await this.run(['logs', '--no-color', '--tail', '20', ...waiting.map(([s]) => s)], { allowFail: true })
        throw new ComposeCommandError(`services not healthy: ${waiting.map(([s, h]) => `${s} (${h})`).join(', ')}\n${logs.stdout.trim()}`, { waiting })
      }
      await clockSleep(systemClock, 1000) // docker health has no event here: a poll bounded by the deadline
    }
  }

  /** Runs a command in a service's container (no TTY, so it works in scripts and tests). */
  async exec (service: string, cmd: string[], options: { timeoutMs?: number, allowFail?: boolean } = {}): Promise<CommandResult> {
    return await this.run(['exec', '-T', service, ...cmd], options)
  }

  /** Peer ids by service, in `services` order. */
  async peerIds (services: string[] = COMPOSE_SERVICES): Promise<string[]> {
    return await Promise.all(services.map(async (s) => {
      const res = await this.exec(s, ['pl-node', 'id', '--json'])
      return String(JSON.parse(res.stdout).peerId)
    }))
  }

  /** `docker kill` (SIGKILL) of a service's container. */
  async kill (service: string): Promise<void> {
    const id = await this.containerId(service)
    const res = await runCommand(['docker', 'kill', id])
    if (res.code !== 0) throw new ComposeCommandError(`docker kill ${service} failed: ${res.stderr.trim()}`, { service })
  }

  async logs (services: string[] = [], tail = 50): Promise<string> {
    return (await this.run(['logs', '--no-color', '--tail', String(tail), ...services], { allowFail: true })).stdout
  }

  /** Removes containers, the network and the named volumes of the project. */
  async down (): Promise<void> {
    await this.run(['down', '-v', '--remove-orphans', '--timeout', '10'], { timeoutMs: 300_000, allowFail: true })
  }
}

/** Where Debian keeps the CA certificates an operator added (update-ca-certificates): a TLS-intercepting proxy's CA lives here. */
const LOCAL_CA_DIR = '/usr/local/share/ca-certificates'

/**
 * The CAs this host added to its trust store, as one PEM text: without
 * PL_EXTRA_CA_FILE / PL_EXTRA_CA_CERT the image build trusts what the host
 * trusts, so `npm ci` inside it works behind the same TLS-intercepting proxy.
 */
export function localCaCerts (dir = LOCAL_CA_DIR): string {
  let names: string[]
  try {
    names = readdirSync(dir).filter(n => n.endsWith('.crt')).sort()
  } catch {
    return ''
  }
  return names.map(n => readFileSync(join(dir, n), 'utf8').trimEnd()).filter(t => t.includes('BEGIN CERTIFICATE')).join('\n')
}

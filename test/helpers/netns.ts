/**
 * A multi-host test bed made of Linux network namespaces: each host is a
 * namespace with one veth link to a bridge, on a private subnet
 * (10.213.<bed>.0/24). The bridge lives in a namespace of its own (`<p>sw`),
 * so nothing is added to the machine's own network. Hosts behind NAT sit in
 * their own namespace behind a router namespace that masquerades their
 * traffic and drops every inbound connection (iptables).
 *
 * Every name starts with `plt<bed>-`: `NetnsBed.create` first removes what a
 * crashed earlier run of the same bed left behind (processes in those
 * namespaces are killed), and `destroy()` removes everything it made.
 *
 * The control API of a pl-node listens on 127.0.0.1 *inside* its namespace;
 * `host.control()` reaches it through a small forwarder process in the
 * namespace (Unix socket: the file system is shared) and a TCP→socket bridge
 * in this process.
 *
 * @example
 * const reason = netnsUnavailable()
 * if (reason != null) { t.skip(reason); return }
 * const bed = await NetnsBed.create({ bed: 1, hosts: 6 })
 * t.after(async () => { await bed.destroy() })
 * const node = await bed.hosts[0].start(['--data-dir', dir])
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { createServer, connect, type Server } from 'node:net'
import { readFile } from 'node:fs/promises'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startNodeProcess, type NodeProcess } from './proc.js'
import { ControlClient } from '../../src/api/client.js'

const FORWARDER = join(dirname(fileURLToPath(import.meta.url)), 'netns-forward.js')
/** The control port of every pl-node in the bed (namespaces have their own port space). */
export const BED_CONTROL_PORT = 7000
/** The libp2p TCP port of every pl-node in the bed. */
export const BED_P2P_PORT = 4001

function ip (args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

function inNs (ns: string, cmd: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

function quiet (fn: () => unknown): void {
  try { fn() } catch {}
}

/** Why namespaces cannot be used here, or undefined when they can. `nat` also needs iptables. */
export function netnsUnavailable (options: { nat?: boolean } = {}): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'network namespaces need root (ip netns add)'
  const probe = `pltprobe-${process.pid}`
  try {
    ip(['netns', 'add', probe])
  } catch (err) {
    return `ip netns add failed: ${String((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`
  } finally {
    quiet(() => ip(['netns', 'del', probe]))
  }
  if (options.nat === true) {
    try {
      execFileSync('iptables', ['--version'], { stdio: 'ignore' })
    } catch {
      return 'iptables is not installed (scripts/setup-ci.sh installs it)'
    }
  }
  return undefined
}

export interface HostInit {
  /** the host's namespace */
  ns: string
  /** its address on the bed's subnet (or its private LAN address behind NAT) */
  ip: string
  /** the switch-side end of its link (for `cut` / `heal`), undefined behind NAT */
  link?: string
  /** the router's public address when behind NAT */
  natPublicIp?: string
}

export class Host {
  readonly processes: ChildProcess[] = []
  readonly bridges: Server[] = []
  constructor (readonly name: string, readonly init: HostInit) {}

  get ns (): string { return this.init.ns }
  get ip (): string { return this.init.ip }

  /** `pl-node start` in this namespace, listening on BED_P2P_PORT on every interface, control API on BED_CONTROL_PORT. */
  async start (args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 300_000): Promise<NodeProcess> {
    const node = await startNodeProcess(
      ['--listen', `/ip4/0.0.0.0/tcp/${BED_P2P_PORT}`, '--control-port', String(BED_CONTROL_PORT), '--exit-with-parent', ...args],
      env, timeoutMs, { wrap: ['ip', 'netns', 'exec', this.ns], loopbackDefaults: false })
    this.processes.push(node.proc)
    return node
  }

  /** A control API client for the pl-node of `dataDir` running in this namespace. */
  async control (dataDir: string): Promise<ControlClient> {
    const { token } = JSON.parse(await readFile(join(dataDir, 'control.json'), 'utf8')) as { token: string }
    const sock = join(dataDir, 'control-forward.sock')
    const fwd = spawn('ip', ['netns', 'exec', this.ns, process.execPath, FORWARDER, sock, String(BED_CONTROL_PORT)], { stdio: ['ignore', 'pipe', 'inherit'] })
    this.processes.push(fwd)
    await new Promise<void>((resolve, reject) => {
      fwd.stdout.once('data', () => { resolve() })
      fwd.once('exit', (code) => { reject(new Error(`control forwarder in ${this.ns} exited with ${String(code)}`)) })
    })
    const bridge = createServer((c) => {
      const u = connect(sock)
      c.pipe(u).pipe(c)
      c.on('error', () => { u.destroy() })
      u.on('error', () => { c.destroy() })
    })
    this.bridges.push(bridge)
    await new Promise<void>((resolve) => { bridge.listen(0, '127.0.0.1', resolve) })
    const port = (bridge.address() as { port: number }).port
    return new ControlClient(`http://127.0.0.1:${port}`, token)
  }

  /** Runs a command in this namespace (a quick one: it is synchronous). */
  exec (cmd: string[]): string {
    return inNs(this.ns, cmd)
  }
}

export interface BedInit {
  /** 1-9: separates the names and subnets of beds of different test files */
  bed: number
  /** hosts on the bridge */
  hosts: number
  /** hosts behind their own NAT router @default 0 */
  natHosts?: number
}

export class NetnsBed {
  readonly hosts: Host[] = []
  readonly natHosts: Host[] = []
  private readonly namespaces: string[] = []

  private constructor (readonly prefix: string, readonly subnet: string) {}

  static async create (init: BedInit): Promise<NetnsBed> {
    if (!Number.isInteger(init.bed) || init.bed < 1 || init.bed > 9) throw new TypeError('bed must be 1-9')
    const bed = new NetnsBed(`plt${init.bed}-`, `10.213.${init.bed}`)
    NetnsBed.sweep(bed.prefix)
    try {
      bed.build(init)
    } catch (err) {
      await bed.destroy()
      throw err
    }
    return bed
  }

  /** Removes the namespaces (and kills the processes in them) that a run of this bed left behind. */
  static sweep (prefix: string): void {
    let list = ''
    try { list = ip(['netns', 'list']) } catch { return }
    for (const line of list.split('\n')) {
      const ns = line.split(' ')[0]
      if (ns == null || !ns.startsWith(prefix)) continue
      killIn(ns)
      quiet(() => ip(['netns', 'del', ns]))
    }
  }

  private addNs (name: string): string {
    const ns = this.prefix + name
    ip(['netns', 'add', ns])
    this.namespaces.push(ns)
    ip(['-n', ns, 'link', 'set', 'lo', 'up'])
    return ns
  }

  /** A veth from the switch (`link` there) to `ns` (`eth0` there) with `addr`. */
  private wire (ns: string, link: string, addr: string): void {
    const sw = this.prefix + 'sw'
    ip(['-n', sw, 'link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
    ip(['-n', sw, 'link', 'set', link, 'master', 'br0', 'up'])
    ip(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0'])
    ip(['-n', ns, 'link', 'set', 'eth0', 'up'])
  }

  private build (init: BedInit): void {
    const sw = this.addNs('sw')
    ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge'])
    ip(['-n', sw, 'link', 'set', 'br0', 'up'])
    for (let i = 1; i <= init.hosts; i++) {
      const ns = this.addNs(`h${i}`)
      this.wire(ns, `h${i}`, `${this.subnet}.${i}`)
      this.hosts.push(new Host(`h${i}`, { ns, ip: `${this.subnet}.${i}`, link: `h${i}` }))
    }
    for (let k = 1; k <= (init.natHosts ?? 0); k++) {
      // router: public leg on the bridge, LAN leg to the host; masquerade out, nothing new in
      const rtr = this.addNs(`r${k}`)
      const publicIp = `${this.subnet}.${100 + k}`
      this.wire(rtr, `r${k}`, publicIp)
      const lan = `10.214.${Number(this.subnet.split('.')[2]) * 10 + k}`
      const ns = this.addNs(`n${k}`)
      ip(['-n', rtr, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
      ip(['-n', rtr, 'addr', 'add', `${lan}.1/24`, 'dev', 'lan0'])
      ip(['-n', rtr, 'link', 'set', 'lan0', 'up'])
      ip(['-n', ns, 'addr', 'add', `${lan}.2/24`, 'dev', 'eth0'])
      ip(['-n', ns, 'link', 'set', 'eth0', 'up'])
      ip(['-n', ns, 'route', 'add', 'default', 'via', `${lan}.1`])
      inNs(rtr, ['sysctl', '-qw', 'net.ipv4.ip_forward=1'])
      inNs(rtr, ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'eth0', '-j', 'MASQUERADE'])
      inNs(rtr, ['iptables', '-P', 'FORWARD', 'DROP'])
      inNs(rtr, ['iptables', '-A', 'FORWARD', '-i', 'lan0', '-o', 'eth0', '-j', 'ACCEPT'])
      inNs(rtr, ['iptables', '-A', 'FORWARD', '-i', 'eth0', '-o', 'lan0', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'])
      this.natHosts.push(new Host(`n${k}`, { ns, ip: `${lan}.2`, natPublicIp: publicIp }))
    }
  }

  /** Takes the host's link down at the switch: a partition (no reset reaches either side). */
  cut (host: Host): void {
    if (host.init.link == null) throw new TypeError(`${host.name} has no switch link`)
    ip(['-n', this.prefix + 'sw', 'link', 'set', host.init.link, 'down'])
  }

  heal (host: Host): void {
    if (host.init.link == null) throw new TypeError(`${host.name} has no switch link`)
    ip(['-n', this.prefix + 'sw', 'link', 'set', host.init.link, 'up'])
  }

  /** Stops every process it started (SIGTERM, then SIGKILL), then removes every namespace. */
  async destroy (): Promise<void> {
    const all = [...this.hosts, ...this.natHosts]
    for (const h of all) for (const b of h.bridges) b.close()
    await Promise.all(all.flatMap(h => h.processes).map(async (p) => {
      if (p.exitCode != null || p.signalCode != null) return
      const exited = new Promise<void>((resolve) => { p.once('exit', () => { resolve() }) })
      p.kill('SIGTERM')
      const t = setTimeout(() => { p.kill('SIGKILL') }, 15_000)
      await exited
      clearTimeout(t)
    }))
    for (const ns of [...this.namespaces].reverse()) {
      killIn(ns)
      quiet(() => ip(['netns', 'del', ns]))
    }
  }
}

/** SIGKILLs whatever still runs in a namespace. */
function killIn (ns: string): void {
  let pids = ''
  try { pids = ip(['netns', 'pids', ns]) } catch { return }
  for (const pid of pids.split('\n').map(Number).filter(n => n > 0)) quiet(() => { process.kill(pid, 'SIGKILL') })
}

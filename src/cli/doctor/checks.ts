/**
 * `pl-node doctor` checks of the node's operating environment: the data dir,
 * the identity key's permissions, python3, the listen ports, and — when a
 * node runs on the data dir — its peers, bootstrap peers, advertised
 * addresses and envelopes rejected for clock skew. Each check returns
 * findings; a problem carries the fix.
 */
import { spawnSync } from 'node:child_process'
import { constants } from 'node:fs'
import { access, lstat, mkdir, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { IDENTITY_FILE } from '../../core/index.js'
import { CLOCK_WARN_MS } from '../../net/index.js'
import { runningPid } from '../daemon.js'
import type { DoctorCheck, DoctorContext, Finding } from './types.js'

const ok = (check: string, message: string): Finding => ({ check, level: 'ok', message })
const warn = (check: string, message: string, fix: string): Finding => ({ check, level: 'warn', message, fix })
const fail = (check: string, message: string, fix: string): Finding => ({ check, level: 'fail', message, fix })

export const dataDirCheck: DoctorCheck = {
  name: 'data dir',
  async run ({ config }) {
    const dir = config.dataDir
    try {
      await mkdir(dir, { recursive: true })
      const probe = join(dir, `.doctor-${process.pid}`)
      await writeFile(probe, '')
      await rm(probe, { force: true })
    } catch (err) {
      return [fail('data dir', `${dir} is not writable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, `chown $(id -u) ${dir} or pass --data-dir to a folder this user may write (a container's volume must belong to its user)`)]
    }
    const pid = await runningPid(dir)
    return [ok('data dir', `${dir} is writable${pid != null ? `; pl-node pid ${pid} runs on it` : '; no pl-node runs on it'}`)]
  }
}

export const identityKeyCheck: DoctorCheck = {
  name: 'identity key',
  async run ({ config }) {
    const file = join(config.dataDir, IDENTITY_FILE)
    let st
    try {
      st = await lstat(file)
    } catch {
      return [ok('identity key', `${file} does not exist yet: the node creates it (mode 0600) on first start`)]
    }
    if (st.isDirectory()) return [fail('identity key', `${file} is a directory (a bind mount of a missing file makes one)`, `rm -r ${file} — the node then creates its key; in compose use a named volume for /data, not a file mount`)]
    if (!st.isFile()) return [fail('identity key', `${file} is not a regular file`, `remove it; the node creates a new key (a new peer id)`)]
    if ((st.mode & 0o077) !== 0) return [fail('identity key', `${file} has mode ${(st.mode & 0o777).toString(8)}: readable by others`, `chmod 600 ${file}`)]
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) return [warn('identity key', `${file} belongs to uid ${st.uid}, not to this user (${process.getuid()})`, `run pl-node as uid ${st.uid}, or chown $(id -u) ${file}`)]
    try {
      await access(file, constants.R_OK)
    } catch {
      return [fail('identity key', `${file} is not readable by this user`, `chown $(id -u) ${file}`)]
    }
    return [ok('identity key', `${file}: mode 600, owned by this user`)]
  }
}

export const pythonCheck: DoctorCheck = {
  name: 'python3',
  async run () {
    const res = spawnSync('python3', ['--version'], { encoding: 'utf8', timeout: 10_000 })
    if (res.error != null || res.status !== 0) return [warn('python3', 'python3 is not on PATH: Python modules (function.py) cannot run here', 'apt-get install -y python3 (JS modules and remote steps work without it)')]
    return [ok('python3', (res.stdout + res.stderr).trim())]
  }
}

/** TCP ports of the configured listen addresses (0 = any port needs no check). */
function listenPorts (addrs: string[]): Array<{ addr: string, host: string, port: number }> {
  const out: Array<{ addr: string, host: string, port: number }> = []
  for (const addr of addrs) {
    try {
      const parts = multiaddr(addr).getComponents()
      const host = parts.find(p => p.name === 'ip4' || p.name === 'ip6')?.value
      const port = Number(parts.find(p => p.name === 'tcp')?.value)
      if (host != null && Number.isInteger(port) && port > 0) out.push({ addr, host, port })
    } catch {}
  }
  return out
}

async function portFree (host: string, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return await new Promise((resolve) => {
    const server = createServer()
    server.once('error', (err) => { resolve(err) })
    server.listen({ host, port, exclusive: true }, () => { server.close(() => { resolve(undefined) }) })
  })
}

export const portsCheck: DoctorCheck = {
  name: 'ports',
  async run ({ config, health }) {
    const ports = listenPorts(config.listen)
    if (ports.length === 0) return [ok('ports', 'listen addresses use any free port (tcp/0)')]
    if (health != null) return [ok('ports', `the running node listens on ${config.listen.join(', ')}`)]
    const out: Finding[] = []
    for (const p of ports) {
      const err = await portFree(p.host, p.port)
      if (err == null) out.push(ok('ports', `${p.addr} is free`))
      else if (err.code === 'EADDRINUSE') out.push(fail('ports', `${p.addr} is in use by another process`, `stop it (ss -ltnp 'sport = :${p.port}' names it) or pass --listen ${p.addr.replace(/\/tcp\/\d+/, '/tcp/0')}`))
      else out.push(fail('ports', `${p.addr} cannot be bound: ${String(err.code ?? err.message)}`, err.code === 'EACCES' ? 'ports below 1024 need root or CAP_NET_BIND_SERVICE: use a port ≥ 1024' : `listen on an address of this host (ip -br addr) or /ip4/0.0.0.0/tcp/${p.port}`))
    }
    return out
  }
}

const LOOPBACK = /^\/ip[46]\/(127\.|::1\/)/

export const reachabilityCheck: DoctorCheck = {
  name: 'reachability',
  async run ({ config, health }) {
    if (health == null) return [warn('reachability', `no pl-node runs on ${config.dataDir}: peers, bootstrap and clock skew are checked only against a running node`, `pl-node start --detach --data-dir ${config.dataDir}, then pl-node doctor again`)]
    const out: Finding[] = []
    const addrs = health.addrs ?? []
    if (addrs.length > 0 && addrs.every(a => LOOPBACK.test(a))) {
      out.push(warn('reachability', `the node advertises only loopback addresses (${addrs.join(', ')}): peers on other hosts cannot dial it`, '--listen /ip4/0.0.0.0/tcp/4001 (or this host\'s address)'))
    } else {
      out.push(ok('reachability', `advertised: ${addrs.filter(a => !LOOPBACK.test(a)).join(', ') || 'none'}`))
    }
    for (const b of health.bootstrap ?? []) {
      if (b.connected === true) out.push(ok('reachability', `bootstrap ${String(b.addr)} joined (${String(b.peerId)})`))
      else out.push(fail('reachability', `bootstrap ${String(b.addr)} not joined after ${String(b.attempts)} attempt(s)${b.problem != null ? `: ${String(b.problem)}` : ''}`, String(b.problem ?? '').includes('mismatch') ? 'fix the /p2p/<peerId> (pl-node id on the bootstrap host prints it)' : 'check that the bootstrap runs and that its port is open on its host and firewalls between (nc -vz HOST PORT)'))
    }
    if ((health.peers ?? 0) === 0) out.push(warn('reachability', 'no peers', (config.bootstrap.length === 0 ? 'pass --bootstrap <multiaddr of a running node>' : 'see the bootstrap lines above')))
    else out.push(ok('reachability', `${String(health.peers)} peer(s) connected`))
    return out
  }
}

const SYNC_FIX = 'synchronise the clock (timedatectl set-ntp true, or chrony/ntpd); a container uses its host\'s clock'

export const clockSkewCheck: DoctorCheck = {
  name: 'clock skew',
  async run ({ health, clock }) {
    if (health == null) return []
    const out: Finding[] = []
    const skewed = Object.entries(health.rejected ?? {}).filter(([k]) => k.endsWith('/ClockSkewError')).reduce((n, [, v]) => n + Number(v), 0)
    if (skewed > 0) out.push(fail('clock skew', `${skewed} envelope(s) from peers were rejected because their timestamp was outside the ±60 s window: this clock or theirs is off (local time ${new Date().toISOString()})`, SYNC_FIX))
    else out.push(ok('clock skew', 'no envelope from a peer was rejected for clock skew'))
    if (clock == null || clock.peers === 0) {
      if ((health.peers ?? 0) > 0) out.push(warn('clock skew', 'the offset to the peers\' clocks could not be measured (/pl/time)', 'upgrade the node and its peers; pl-node doctor again'))
      return out
    }
    const median = clock.medianMs ?? 0
    const line = `median offset of ${clock.peers} peer clock(s) from this one: ${median} ms (largest ${String(clock.maxAbsMs)} ms)`
    if (Math.abs(median) > CLOCK_WARN_MS) out.push(fail('clock skew', `${line}: this clock is off from most of its peers`, SYNC_FIX))
    else if (clock.skewed.length > 0) out.push(warn('clock skew', `${line}; off by more than ${CLOCK_WARN_MS / 1000} s: ${clock.skewed.join(', ')}`, 'those peers\' clocks are off: tell their operators'))
    else out.push(ok('clock skew', line))
    return out
  }
}

/** The checks of this file, in the order they print. */
export const ENVIRONMENT_CHECKS: DoctorCheck[] = [dataDirCheck, identityKeyCheck, pythonCheck, portsCheck, reachabilityCheck, clockSkewCheck]

export type { DoctorContext }

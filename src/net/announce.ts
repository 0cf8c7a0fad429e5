/**
 * Which of its addresses a node tells peers about (identify, DHT peer
 * records, capability ads). A node listening on 0.0.0.0 has 127.0.0.1 among
 * its addresses: peers on other hosts would dial their own loopback. A
 * `noAnnounce` entry is a multiaddr prefix (`/ip4/10.0.0.5/tcp/4001`) or an
 * address range (`/ip4/127.0.0.0/ipcidr/8`, `/ip6/::1/ipcidr/128`).
 *
 * @example
 * announceFilter(['/ip4/127.0.0.0/ipcidr/8'])([multiaddr('/ip4/127.0.0.1/tcp/1'), multiaddr('/ip4/10.1.2.3/tcp/1')])
 * // → [/ip4/10.1.2.3/tcp/1]
 */
import { isIPv4, isIPv6 } from 'node:net'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'

interface Rule { prefix?: string, family?: 'ip4' | 'ip6', net?: bigint, bits?: number }

function ipToBigInt (ip: string): bigint {
  if (isIPv4(ip)) return ip.split('.').reduce((n, part) => (n << 8n) + BigInt(Number(part)), 0n)
  // expand '::' then read 8 groups of 16 bits
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined]
  const h = head === '' ? [] : head.split(':')
  const t = tail == null || tail === '' ? [] : tail.split(':')
  const groups = tail == null ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t]
  return groups.reduce((n, g) => (n << 16n) + BigInt(parseInt(g, 16)), 0n)
}

function rule (entry: string): Rule {
  const parts = multiaddr(entry).getComponents()
  const cidr = parts.findIndex(c => c.name === 'ipcidr')
  if (cidr < 1 || (parts[0].name !== 'ip4' && parts[0].name !== 'ip6')) return { prefix: entry.replace(/\/$/, '') }
  const family = parts[0].name
  const width = family === 'ip4' ? 32 : 128
  const bits = Number(parts[cidr].value)
  const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - bits)) - 1n)
  return { family, net: ipToBigInt(String(parts[0].value)) & mask, bits }
}

function matches (r: Rule, addr: Multiaddr): boolean {
  const s = addr.toString()
  if (r.prefix != null) return s === r.prefix || s.startsWith(r.prefix + '/')
  const first = addr.getComponents()[0]
  if (first?.name !== r.family || first.value == null) return false
  const ip = String(first.value)
  if (r.family === 'ip4' ? !isIPv4(ip) : !isIPv6(ip)) return false
  const width = r.family === 'ip4' ? 32 : 128
  const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - (r.bits ?? 0))) - 1n)
  return (ipToBigInt(ip) & mask) === r.net
}

/** libp2p's `addresses.announceFilter` dropping every address that matches an entry. */
export function announceFilter (noAnnounce: string[]): (addrs: Multiaddr[]) => Multiaddr[] {
  const rules = noAnnounce.map(rule)
  return (addrs) => addrs.filter(a => !rules.some(r => matches(r, a)))
}

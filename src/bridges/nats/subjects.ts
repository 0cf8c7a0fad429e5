/**
 * Subjects of the NATS binding. Gossip topics `pl/v1/<rest>` become
 * `<prefix>.<rest with / as .>` (`pl/v1/catalog` → `pl.v1.catalog`,
 * `pl/v1/cfp/Upper` → `pl.v1.cfp.Upper`); a protocol `/pl/<name>/1.0.0`
 * served by peer P is `<prefix>.<P>.<name>`.
 */
import { ConfigError } from '../../config/index.js'

const TOKEN = /^[A-Za-z0-9_-]+$/
const GOSSIP_PREFIX = 'pl/v1/'
const PROTOCOL = /^\/pl\/([a-z][a-z0-9-]*)\/1\.0\.0$/

/** Throws ConfigError unless `prefix` is dot-separated tokens of letters, digits, `_` and `-`. */
export function checkPrefix (prefix: string): string {
  if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 64 || !prefix.split('.').every(t => TOKEN.test(t))) {
    throw new ConfigError(`services.nats.prefix must be dot-separated tokens of letters, digits, _ and - (at most 64 characters), got ${JSON.stringify(prefix)}`)
  }
  return prefix
}

/** Whether every dot-separated token of `s` is a plain subject token (no wildcard, no empty token). */
export function plainSubject (s: string): boolean {
  return s.length > 0 && s.split('.').every(t => /^[A-Za-z0-9_.-]+$/.test(t) && t.length > 0)
}

/** The subject of a gossip topic, or undefined when the topic has no NATS form (a capability name with an empty token). */
export function topicSubject (prefix: string, topic: string): string | undefined {
  if (!topic.startsWith(GOSSIP_PREFIX)) return undefined
  const rest = topic.slice(GOSSIP_PREFIX.length).split('/').join('.')
  return plainSubject(rest) ? `${prefix}.${rest}` : undefined
}

/** `<prefix>.<peer>.<name>` for protocol `/pl/<name>/1.0.0`. */
export function callSubject (prefix: string, peer: string, protocolId: string): string {
  const m = PROTOCOL.exec(protocolId)
  if (m == null) throw new TypeError(`protocol ${protocolId} has no NATS subject (only /pl/<name>/1.0.0)`)
  return `${prefix}.${peer}.${m[1]}`
}

/** The protocol id of the last token of a call subject. */
export function subjectProtocol (subject: string): string {
  return `/pl/${subject.slice(subject.lastIndexOf('.') + 1)}/1.0.0`
}

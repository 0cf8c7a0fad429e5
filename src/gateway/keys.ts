/**
 * API keys and registered agents, in the LevelDB sublevel `gateway-keys`.
 * A key is `plk_<id>_<secret>`: the id finds the record, the secret is only
 * ever stored as its SHA-256 and compared in constant time. The key itself
 * is returned once, by `create`, and never again. An agent is a PeerId
 * (ed25519) that signs its own requests; it is registered with scopes the
 * same way, without a secret.
 *
 * @example
 * const keys = new KeyStore(store)
 * const { key } = await keys.create({ name: 'alice', scopes: ['read', 'submit'] })
 * const principal = await keys.authenticate(key)   // { name: 'alice', kind: 'api-key', scopes }
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Store, JsonSublevel } from '../store/index.js'
import { publicKeyOfPeer } from '../core/index.js'
import type { Principal, Scope } from './types.js'
import { ApiKeyExistsError, ApiKeyNotFoundError, InvalidApiKeyError } from './errors.js'
import { MAX_API_KEYS, SCOPES } from './constants.js'
import { systemClock, type Clock } from '../core/clock.js'

export { SCOPES }
export const KEY_PREFIX = 'plk_'
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/

export interface KeyRecord {
  v: 1
  kind: 'api-key' | 'agent'
  name: string
  scopes: Scope[]
  created: number
  /** api-key: the id part of the key (the record's LevelDB key is `k/<id>`) */
  id?: string
  /** api-key: hex SHA-256 of the whole key */
  hash?: string
  /** agent: its PeerId (the record's LevelDB key is `a/<peerId>`) */
  agent?: string
  /** session keys (console logins): ms since epoch after which the key is refused and removed */
  expires?: number
}

/** What `list` shows: never the hash. */
export type KeyInfo = Omit<KeyRecord, 'hash' | 'v'>

function sha256 (s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

/** Checks and normalises a scope list (`read,submit` or an array). */
export function parseScopes (value: unknown): Scope[] {
  const list = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : undefined
  if (list == null) throw new InvalidApiKeyError('scopes must be a comma-separated string or a list', { scopes: value })
  const out = [...new Set(list.map(s => String(s).trim()).filter(s => s !== ''))]
  if (out.length === 0) throw new InvalidApiKeyError(`a key needs at least one scope (${SCOPES.join(', ')})`)
  for (const s of out) if (!SCOPES.includes(s as Scope)) throw new InvalidApiKeyError(`unknown scope "${s}" (known: ${SCOPES.join(', ')})`, { scope: s })
  return out as Scope[]
}

export class KeyStore {
  private readonly db: JsonSublevel<KeyRecord>
  /** the hash compared when the id is unknown, so that a miss costs what a hit costs */
  private readonly decoy = sha256(randomBytes(16).toString('hex'))

  constructor (store: Store, private readonly clock: Clock = systemClock) {
    this.db = store.json<KeyRecord>('gateway-keys')
  }

  private async all (): Promise<KeyRecord[]> {
    const out: KeyRecord[] = []
    for await (const v of this.db.values()) out.push(v as KeyRecord)
    return out
  }

  private async checkNew (name: string): Promise<void> {
    if (typeof name !== 'string' || !NAME_RE.test(name)) throw new InvalidApiKeyError(`key name "${String(name)}" must be 1-64 letters, digits or _ . @ - (starting with a letter or digit)`, { name })
    const all = await this.all()
    if (all.some(r => r.name === name)) throw new ApiKeyExistsError(`a key or agent named "${name}" exists already; revoke it first`, { name })
    if (all.length >= MAX_API_KEYS) throw new InvalidApiKeyError(`this node keeps at most ${MAX_API_KEYS} keys`, { max: MAX_API_KEYS })
  }

  /** Creates an API key; the returned `key` is shown once and stored only hashed. */
  async create (init: { name: string, scopes: unknown, ttlMs?: number }): Promise<{ name: string, scopes: Scope[], key: string, expires?: number }> {
    const scopes = parseScopes(init.scopes)
    await this.sweep()
    await this.checkNew(init.name)
    const id = randomBytes(8).toString('hex')
    const key = `${KEY_PREFIX}${id}_${randomBytes(24).toString('base64url')}`
    const created = this.clock.now()
    const expires = init.ttlMs != null ? created + init.ttlMs : undefined
    const record: KeyRecord = { v: 1, kind: 'api-key', name: init.name, scopes, created, id, hash: sha256(key).toString('hex'), ...(expires != null ? { expires } : {}) }
    await this.db.put(`k/${id}`, record)
    return { name: init.name, scopes, key, ...(expires != null ? { expires } : {}) }
  }

  /** Removes session keys past their expiry (they are refused already; this frees their names and slots). */
  private async sweep (): Promise<void> {
    const now = this.clock.now()
    const gone: string[] = []
    for await (const [k, v] of this.db.iterator()) if ((v as KeyRecord).expires != null && ((v as KeyRecord).expires as number) <= now) gone.push(String(k))
    if (gone.length > 0) await this.db.batch(gone.map(key => ({ type: 'del' as const, key })))
  }

  /** Registers an agent's PeerId (ed25519): its signed requests get `scopes`. */
  async registerAgent (init: { name: string, agent: string, scopes: unknown }): Promise<KeyInfo> {
    const scopes = parseScopes(init.scopes)
    try {
      publicKeyOfPeer(init.agent)
    } catch (err) {
      throw new InvalidApiKeyError(`agent "${String(init.agent)}" is not an ed25519 PeerId: ${(err as Error).message}`, { agent: init.agent })
    }
    await this.checkNew(init.name)
    if (await this.db.get(`a/${init.agent}`) != null) throw new ApiKeyExistsError(`agent ${init.agent} is registered already`, { agent: init.agent })
    const record: KeyRecord = { v: 1, kind: 'agent', name: init.name, scopes, created: this.clock.now(), agent: init.agent }
    await this.db.put(`a/${init.agent}`, record)
    return info(record)
  }

  async list (): Promise<KeyInfo[]> {
    return (await this.all()).map(info).sort((a, b) => a.created - b.created || a.name.localeCompare(b.name))
  }

  /** Revokes the key or agent named `name`. */
  async revoke (name: string): Promise<KeyInfo> {
    for await (const [k, v] of this.db.iterator()) {
      const r = v as KeyRecord
      if (r.name === name) {
        await this.db.del(k)
        return info(r)
      }
    }
    throw new ApiKeyNotFoundError(`no key or agent named "${name}"`, { name })
  }

  /** The principal of a bearer key, or undefined (constant-time compare of the hashes). */
  async authenticate (key: string): Promise<Principal | undefined> {
    const m = /^plk_([0-9a-f]{16})_[A-Za-z0-9_-]{32}$/.exec(key)
    const record = m != null ? await this.db.get(`k/${m[1]}`) as KeyRecord | undefined : undefined
    const want = record?.hash != null ? Buffer.from(record.hash, 'hex') : this.decoy
    const ok = timingSafeEqual(sha256(key), want) && record != null
    if (ok && record.expires != null && record.expires <= this.clock.now()) {
      await this.db.del(`k/${m?.[1] ?? ''}`)
      return undefined
    }
    return ok ? { name: record.name, kind: 'api-key', scopes: record.scopes } : undefined
  }

  /** The principal of a registered agent, or undefined. */
  async agent (peerId: string): Promise<Principal | undefined> {
    const record = await this.db.get(`a/${peerId}`) as KeyRecord | undefined
    return record == null ? undefined : { name: record.name, kind: 'agent', scopes: record.scopes, agent: peerId }
  }
}

function info (r: KeyRecord): KeyInfo {
  const { hash: _h, v: _v, ...rest } = r
  return rest
}

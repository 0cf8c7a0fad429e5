/**
 * Node identity: one ed25519 key, kept in the data dir (mode 0600). The same
 * key is the libp2p PeerId and signs envelopes. Signing and verification use
 * node's `crypto` (OpenSSL), several times faster than pure-JS ed25519.
 */
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { mkdir, readFile, writeFile, chmod, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey as pidFromPublicKey } from '@libp2p/peer-id'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey, PeerId } from '@libp2p/interface'
import { IdentityError, IdentityKeyExposedError } from './errors.js'
import type { Logger } from './logger.js'

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
export const IDENTITY_FILE = 'identity.key'

export interface Identity {
  privateKey: PrivateKey
  peerId: PeerId
  /** PeerId as a string, the form used in envelopes (`from`). */
  id: string
  publicKey: Uint8Array
  sign: (data: Uint8Array) => Uint8Array
}

export function identityFromPrivateKey (privateKey: PrivateKey): Identity {
  if (privateKey.type !== 'Ed25519') throw new IdentityError(`identity key must be Ed25519, got ${privateKey.type}`)
  const seed = privateKey.raw.subarray(0, 32)
  const keyObject = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  const peerId = peerIdFromPrivateKey(privateKey)
  return {
    privateKey,
    peerId,
    id: peerId.toString(),
    publicKey: privateKey.publicKey.raw,
    // node's Buffer as it is (a Uint8Array): no copy of the 64 bytes; toBase64url reads it in place
    sign: (data) => cryptoSign(null, data, keyObject)
  }
}

export async function createIdentity (): Promise<Identity> {
  return identityFromPrivateKey(await generateKeyPair('Ed25519'))
}

export interface LoadIdentityOptions {
  /** gets the warning when a loose key mode cannot be tightened @default process.emitWarning */
  logger?: Pick<Logger, 'warn'>
  /** tightens the key's mode (tests pass one that fails like a read-only mount) @default fs.promises.chmod */
  chmod?: (path: string, mode: number) => Promise<void>
}

/**
 * Loads the key in `dataDir`, creating it (0600) on first start. A key file
 * with group/other permission bits is tightened to 0600. When that chmod
 * fails (a read-only mount, a file owned by another user):
 * - if group or others can read the key, loading fails with
 *   IdentityKeyExposedError: a readable private key lets anyone on the host
 *   sign as this node, so we refuse to use it (as ssh does);
 * - otherwise (only write/execute bits) the key is used and a warning names
 *   the file, its mode and the chmod error.
 */
export async function loadOrCreateIdentity (dataDir: string, options: LoadIdentityOptions = {}): Promise<Identity> {
  await mkdir(dataDir, { recursive: true })
  const file = join(dataDir, IDENTITY_FILE)
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(file)
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw new IdentityError(`cannot read identity key ${file}: ${err.message}`)
  }
  if (bytes == null) {
    const key = await generateKeyPair('Ed25519')
    await writeFile(file, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
    return identityFromPrivateKey(key)
  }
  const st = await stat(file)
  if ((st.mode & 0o077) !== 0) await tightenKeyMode(file, st.mode & 0o777, options)
  try {
    return identityFromPrivateKey(privateKeyFromProtobuf(bytes))
  } catch (err: any) {
    throw new IdentityError(`identity key ${file} is corrupt: ${err.message}`)
  }
}

async function tightenKeyMode (file: string, mode: number, options: LoadIdentityOptions): Promise<void> {
  try {
    await (options.chmod ?? chmod)(file, 0o600)
    return
  } catch (err: any) {
    const octal = `0${mode.toString(8)}`
    const details = { path: file, mode: octal, code: err.code, error: err.message }
    if ((mode & 0o044) !== 0) {
      throw new IdentityKeyExposedError(`identity key ${file} is readable by ${(mode & 0o004) !== 0 ? 'everyone' : 'its group'} (mode ${octal}) and chmod 0600 failed: ${err.message}; make it private (chmod 600, or mount it with mode 0400/0600)`, details)
    }
    const message = `identity key ${file} has mode ${octal} and chmod 0600 failed: ${err.message}; using it (no one else can read it)`
    if (options.logger != null) options.logger.warn(details, message)
    else process.emitWarning(message, { code: 'PL_IDENTITY_KEY_MODE', detail: JSON.stringify(details) })
  }
}

const publicKeyCache = new Map<string, KeyObject>()
const PUBLIC_KEY_CACHE_MAX = 4096

/** Raw ed25519 public key of a PeerId string; throws IdentityError for non-ed25519 ids. */
export function publicKeyOfPeer (peer: string): Uint8Array {
  let pid: PeerId
  try {
    pid = peerIdFromString(peer)
  } catch {
    throw new IdentityError(`not a peer id: ${peer.slice(0, 80)}`)
  }
  if (pid.type !== 'Ed25519' || pid.publicKey == null) throw new IdentityError(`peer id ${peer} does not embed an ed25519 key`)
  return pid.publicKey.raw
}

function keyObjectOf (peer: string): KeyObject {
  let key = publicKeyCache.get(peer)
  if (key == null) {
    const raw = publicKeyOfPeer(peer)
    key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' })
    if (publicKeyCache.size >= PUBLIC_KEY_CACHE_MAX) publicKeyCache.delete(publicKeyCache.keys().next().value as string)
    publicKeyCache.set(peer, key)
  }
  return key
}

/** Verifies an ed25519 signature by the key embedded in a PeerId string. */
export function verifyByPeer (peer: string, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.byteLength !== 64) return false
  return cryptoVerify(null, data, keyObjectOf(peer), signature)
}

export function peerIdFromPublicKey (raw: Uint8Array): string {
  return pidFromPublicKey(publicKeyFromRaw(raw)).toString()
}

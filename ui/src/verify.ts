// Receipt checks in the browser, with no server round trip: the provider
// signed "pl/receipt/v1" + dag-cbor(receipt), the requester countersigned
// "pl/receipt-accept/v1" + dag-cbor(receipt) (src/receipts/signing.ts);
// both keys are inside their PeerIds. A receipt's CID is
// CIDv1(dag-cbor, sha2-256) of the same canonical bytes.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { base58btc } from 'multiformats/bases/base58'
import * as ed from '@noble/ed25519'

const enc = new TextEncoder()

export interface ReceiptCheck {
  cid: string
  ok: boolean
  provider: boolean
  requester: boolean | null
  problem?: string
}

function fromB64url (s: string): Uint8Array {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - s.length % 4) % 4))
  return Uint8Array.from(b, c => c.charCodeAt(0))
}

/** The ed25519 public key inside an identity-multihash PeerId (12D3KooW…). */
export function peerKey (peerId: string): Uint8Array {
  const mh = base58btc.baseDecode(peerId)
  // identity multihash (0x00, 36) of the protobuf PublicKey {Type: Ed25519 (08 01), Data: 32 bytes (12 20 …)}
  if (mh.length !== 38 || mh[0] !== 0x00 || mh[1] !== 36 || mh[2] !== 0x08 || mh[3] !== 0x01 || mh[4] !== 0x12 || mh[5] !== 0x20) throw new Error(`${peerId} is not an ed25519 PeerId`)
  return mh.slice(6)
}

function tagged (domain: string, body: Uint8Array): Uint8Array {
  const tag = enc.encode(domain)
  const out = new Uint8Array(tag.length + body.length)
  out.set(tag, 0)
  out.set(body, tag.length)
  return out
}

async function verify (sig: string, msg: Uint8Array, peer: string): Promise<boolean> {
  try {
    return await ed.verifyAsync(fromB64url(sig), msg, peerKey(peer))
  } catch {
    return false
  }
}

export async function receiptCid (receipt: unknown): Promise<string> {
  const bytes = dagCbor.encode(receipt)
  return CID.createV1(dagCbor.code, await sha256.digest(bytes)).toString()
}

export async function checkReceipt (signed: { receipt: any, provider_sig?: string, requester_sig?: string }): Promise<ReceiptCheck> {
  let bytes: Uint8Array
  try {
    bytes = dagCbor.encode(signed.receipt)
  } catch (err) {
    return { cid: '', ok: false, provider: false, requester: false, problem: `not encodable: ${(err as Error).message}` }
  }
  const cid = CID.createV1(dagCbor.code, await sha256.digest(bytes)).toString()
  const provider = typeof signed.provider_sig === 'string' && await verify(signed.provider_sig, tagged('pl/receipt/v1', bytes), String(signed.receipt?.provider))
  const requester = signed.requester_sig == null ? null : await verify(signed.requester_sig, tagged('pl/receipt-accept/v1', bytes), String(signed.receipt?.requester))
  const ok = provider && requester !== false
  return { cid, ok, provider, requester, ...(ok ? {} : { problem: !provider ? 'provider signature does not verify' : 'requester countersignature does not verify' }) }
}

/**
 * Every receipt checked, the chain's links (each `prev` must name a receipt
 * of the export) and the root: CID of {v:1, kind:'pl/receipt-root', run,
 * sinks} where the sinks are the receipts no other receipt names in `prev`.
 */
export async function checkExport (doc: { run?: string, root?: string, receipts?: any[] }): Promise<{ checks: ReceiptCheck[], missingPrev: string[], rootOk: boolean }> {
  const receipts = doc.receipts ?? []
  const checks = await Promise.all(receipts.map(checkReceipt))
  const cids = new Set(checks.map(c => c.cid))
  const named = new Set(receipts.flatMap((r: any) => r?.receipt?.prev ?? []))
  const missingPrev = [...named].filter(p => !cids.has(p as string)) as string[]
  const sinks = checks.map(c => c.cid).filter(c => c !== '' && !named.has(c)).sort()
  const root = CID.createV1(dagCbor.code, await sha256.digest(dagCbor.encode({ v: 1, kind: 'pl/receipt-root', run: doc.run, sinks }))).toString()
  return { checks, missingPrev, rootOk: doc.root === root }
}

/**
 * The requester's check of a provider-signed receipt against what it knows
 * independently: the award it signed, the input it sent, the output bytes it
 * received (already verified against their CID), the limits it awarded and
 * the policies it required. Each disagreement is its own error class.
 *
 * @example
 * verifyReceiptAgainst(signed, { award: { id: awardId, body: award }, requester: me, input: inputCid, output: outputCid, limits: award.limits, policies: cfp.policies })
 */
import { verifySignedReceipt, type ReceiptOptions, type SignedReceipt } from './signing.js'
import { LIMIT_KEYS, type Limits, type Usage } from '../wire/index.js'
import {
  ReceiptAwardMismatchError, ReceiptInputMismatchError, ReceiptLimitsMismatchError, ReceiptOutputMismatchError, ReceiptPolicyMissingError,
  ReceiptStatusMismatchError, ReceiptTimesInvalidError, ReceiptUsageExceededError
} from './errors.js'

/** The parts of an Award.v1 a receipt must agree with. */
export interface AwardRef {
  /** the award envelope id */
  id: string
  body: { run: string, step: string, provider: string, prev?: string[], on_behalf_of?: string }
}

export interface ReceiptExpectation extends ReceiptOptions {
  award: AwardRef
  /** our own PeerId: the receipt's requester */
  requester: string
  /** the capability name the step asked for */
  capability?: string
  /** CID of the input document we sent */
  input: string
  /** CID of the output bytes we received */
  output: string
  /** the limits of the award; the receipt must restate them and its usage stay within them */
  limits: Limits
  /**
   * the status of the Result the receipt came with
   * @default 'ok'
   */
  status?: 'ok' | 'error'
  /** policies the step required; the receipt must list each */
  policies?: string[]
  /** attestation CIDs the award named; the receipt must list exactly these */
  attestations?: string[]
}

const USAGE_LIMITS: Array<[keyof Usage, keyof Limits]> = [
  ['cpu_ms', 'cpu_ms'], ['wall_ms', 'wall_ms'], ['mem_peak_mb', 'mem_mb']
]

function mismatch (field: string, expected: unknown, actual: unknown): ReceiptAwardMismatchError {
  return new ReceiptAwardMismatchError(`receipt ${field} is ${JSON.stringify(actual)}, the award says ${JSON.stringify(expected)}`, { field, expected, actual })
}

/** Throws the first disagreement; on return `signed` is a valid provider-signed receipt for this award. */
export function verifyReceiptAgainst (signed: unknown, expected: ReceiptExpectation): asserts signed is SignedReceipt {
  verifySignedReceipt(signed, { registry: expected.registry })
  const r = signed.receipt
  const a = expected.award
  if (r.award !== a.id) throw mismatch('award', a.id, r.award)
  if (r.provider !== a.body.provider) throw mismatch('provider', a.body.provider, r.provider)
  if (r.requester !== expected.requester) throw mismatch('requester', expected.requester, r.requester)
  if (r.run !== a.body.run) throw mismatch('run', a.body.run, r.run)
  if (r.step !== a.body.step) throw mismatch('step', a.body.step, r.step)
  if (expected.capability != null && r.capability !== expected.capability) throw mismatch('capability', expected.capability, r.capability)
  if (r.on_behalf_of !== a.body.on_behalf_of) throw mismatch('on_behalf_of', a.body.on_behalf_of, r.on_behalf_of)
  const prev = a.body.prev ?? []
  if (r.prev.length !== prev.length || r.prev.some((c, i) => c !== prev[i])) throw mismatch('prev', prev, r.prev)
  if (r.input !== expected.input) {
    throw new ReceiptInputMismatchError(`receipt input ${r.input} is not the input that was sent (${expected.input})`, { expected: expected.input, actual: r.input })
  }
  if (r.output !== expected.output) {
    throw new ReceiptOutputMismatchError(`receipt output ${r.output === '' ? '(none)' : r.output} is not the output that was received (${expected.output})`, { expected: expected.output, actual: r.output })
  }
  const status = expected.status ?? 'ok'
  if (r.status !== status) {
    throw new ReceiptStatusMismatchError(`receipt status is ${r.status}, the result says ${status}`, { expected: status, actual: r.status })
  }
  if (r.started > r.ended) {
    throw new ReceiptTimesInvalidError(`receipt started (${r.started}) is after it ended (${r.ended})`, { started: r.started, ended: r.ended })
  }
  for (const k of LIMIT_KEYS) {
    if (r.limits[k] !== expected.limits[k]) {
      throw new ReceiptLimitsMismatchError(`receipt limits.${k} is ${JSON.stringify(r.limits[k])}, the award says ${JSON.stringify(expected.limits[k])}`, { limit: k, expected: expected.limits[k], actual: r.limits[k] })
    }
  }
  for (const [used, limit] of USAGE_LIMITS) {
    const max = expected.limits[limit]
    if (max != null && r.usage[used] > max) {
      throw new ReceiptUsageExceededError(`receipt reports ${used} = ${r.usage[used]}, above the awarded ${limit} of ${max}`, { limit, limit_value: max, measured: r.usage[used] })
    }
  }
  const atts = expected.attestations ?? []
  const got = r.attestations ?? []
  if (got.length !== atts.length || got.some((c, i) => c !== atts[i])) throw mismatch('attestations', atts, got)
  const missing = (expected.policies ?? []).filter(p => !r.policies.includes(p))
  if (missing.length > 0) {
    throw new ReceiptPolicyMissingError(`receipt does not list the required ${missing.length === 1 ? 'policy' : 'policies'} ${missing.join(', ')}`, { missing })
  }
}

/**
 * Fuzz targets: bytes into the frame decoder, envelopes into verification,
 * and (when the workflow area is built) DSL text into the parser and ZIP
 * bytes into the bundle loader, JSON into the registry's query language, and
 * /pl/catalog-sync requests and answer pages into their checks.
 */
import { FrameDecoder, encodeFrame } from '../src/net/index.js'
import { decodeCanonical, encodeCanonical } from '../src/core/encoding.js'
import { createIdentity, signEnvelope, EnvelopeVerifier } from '../src/core/index.js'
import { SchemaRegistry } from '../src/spec/index.js'
import type { FuzzTarget } from './harness.js'
import { registryTargets } from './registry-targets.js'
import { catalogTarget } from './catalog-targets.js'
import { gatewayTarget } from './gateway-target.js'
import { catalogSyncTarget } from './catalog-sync-target.js'

const CODEC_ERRORS = ['InvalidEncodingError', 'MalformedFrameError', 'FrameTooLargeError', 'TruncatedFrameError']
const ENVELOPE_ERRORS = ['MalformedEnvelopeError', 'UnknownTypeError', 'SchemaMismatchError', 'InvalidBodyError', 'BadSignatureError', 'WrongSenderError', 'NotForMeError', 'ClockSkewError', 'EnvelopeExpiredError', 'ReplayError', 'EnvelopeTooLargeError']
const cfpId = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

export const framesTarget: FuzzTarget = {
  name: 'frames',
  allowed: new Set(CODEC_ERRORS),
  seeds: () => [encodeFrame({ status: 'OK', body: { a: [1, 2, { b: 'x' }] } }, 1 << 20), encodeFrame({ status: 'PROGRESS', body: 1.5 }, 1 << 20), new Uint8Array([0])],
  run: (input) => {
    const d = new FrameDecoder(64 * 1024)
    // feed in uneven chunks, as a stream would
    for (let i = 0; i < input.length; i += 3) {
      d.push(input.subarray(i, i + 3))
      for (let f = d.next(); f != null; f = d.next()) void f
    }
    d.end()
  }
}

export async function envelopeTarget (): Promise<FuzzTarget> {
  const registry = await SchemaRegistry.load()
  const id = await createIdentity()
  const verifier = new EnvelopeVerifier(registry, undefined)
  const seeds = [
    encodeCanonical(signEnvelope(id, registry, 'Decline.v1', { cfp: cfpId, run: 'r', step: 's', reason: 'busy' })),
    encodeCanonical(signEnvelope(id, registry, 'Bid.v1', { cfp: cfpId, run: 'r', step: 's', capability: cfpId, price: 1.5, eta_ms: 100, limits: { wall_ms: 1000 }, expires: Date.now() + 60_000, attrs: { readability: 0.9 } }))
  ]
  return {
    name: 'envelope',
    allowed: new Set([...CODEC_ERRORS, ...ENVELOPE_ERRORS]),
    seeds: () => seeds,
    run: async (input) => { await verifier.verify(decodeCanonical(input)) }
  }
}

export async function allTargets (): Promise<FuzzTarget[]> {
  const targets: FuzzTarget[] = [framesTarget, await envelopeTarget(), catalogTarget, await catalogSyncTarget(), ...await registryTargets(), await gatewayTarget()]
  try {
    const specifier = './workflow-targets.js' // optional module, present once the workflow area is built
    const extra = await import(specifier) as { workflowTargets: () => Promise<FuzzTarget[]> }
    targets.push(...await extra.workflowTargets())
  } catch (err: any) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err
  }
  return targets
}

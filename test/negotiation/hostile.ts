/**
 * A scripted provider for tests: speaks /pl/negotiate and /pl/exec on a real
 * node, honestly or not, per capability name. It models the dishonest peers
 * of the bad-input tests (forged bids, bids signed by someone else, output
 * bytes that do not match their CID, receipts that lie).
 */
import { cidOfBytes, decodeCanonical, encodeCanonical, cidStringOf } from '../../src/core/encoding.js'
import { createIdentity, type Identity, signEnvelope, type Envelope } from '../../src/core/index.js'
import { signReceipt, type Receipt } from '../../src/receipts/index.js'
import { negotiateProtocol, execProtocol, type Award, type Bid, type CallForProposal, type Decline, type Result, type DeclineReason, type Limits } from '../../src/negotiation/index.js'
import type { PlNode } from '../../src/node.js'

export interface Behaviour {
  price?: number
  attrs?: Record<string, number | string | boolean>
  attestations?: string[]
  /** how it answers a call */
  bid?: 'honest' | 'forged-signature' | 'other-signer' | 'silent'
  decline?: { reason: DeclineReason, message: string }
  /** how it executes */
  exec?: 'honest' | 'wrong-output-bytes' | 'usage-over-limits' | 'wrong-input-cid'
  compute?: (inputData: Record<string, unknown>) => unknown
  /** the limits its bids offer (default: 5 s, 128 MiB, then the call's) */
  limits?: Limits
}

export class ScriptedProvider {
  readonly behaviours = new Map<string, Behaviour>()
  readonly awards = new Map<string, Award>()
  readonly cfps = new Map<string, CallForProposal>()
  calls = 0
  execs = 0
  private stranger?: Identity

  static async install (node: PlNode): Promise<ScriptedProvider> {
    const p = new ScriptedProvider()
    p.stranger = await createIdentity()
    await node.components.rpc.handle(negotiateProtocol(async (req, ctx) => {
      const c = node.components
      const v = await c.verifier.verify<any>(req.envelope, { expectedFrom: ctx.peer, expectedTypes: ['CallForProposal.v1', 'Award.v1'] })
      if (v.envelope.type === 'Award.v1') {
        p.awards.set(v.id, v.envelope.body as Award)
        return { status: 'OK', body: { award: v.id, accepted: true } }
      }
      p.calls++
      const cfp = v.envelope.body as CallForProposal
      p.cfps.set(v.id, cfp)
      const b = p.behaviours.get(cfp.capability.name) ?? {}
      if (b.bid === 'silent') {
        await new Promise(resolve => { ctx.signal.addEventListener('abort', resolve, { once: true }) })
        throw new Error('silent provider gave up')
      }
      if (b.decline != null) {
        const d: Decline = { cfp: v.id, run: cfp.run, step: cfp.step, reason: b.decline.reason, message: b.decline.message }
        return { status: 'OK', body: { envelope: c.sign('Decline.v1', d, { to: ctx.peer }) } }
      }
      const bid: Bid = {
        cfp: v.id,
        run: cfp.run,
        step: cfp.step,
        capability: cfp.capability.cid ?? cidStringOf({ scripted: cfp.capability.name }),
        price: b.price ?? 1,
        eta_ms: 10,
        ...(b.attrs != null ? { attrs: b.attrs } : {}),
        limits: b.limits ?? { wall_ms: 5_000, mem_mb: 128, ...cfp.limits },
        attestations: b.attestations ?? cfp.policies ?? [],
        expires: Date.now() + 30_000
      }
      let envelope: Envelope<Bid> = c.sign('Bid.v1', bid, { to: ctx.peer })
      if (b.bid === 'forged-signature') envelope = { ...envelope, body: { ...envelope.body, price: 0 } }
      if (b.bid === 'other-signer') envelope = signEnvelope(p.stranger as Identity, c.registry, 'Bid.v1', bid, { to: ctx.peer })
      return { status: 'OK', body: { envelope } }
    }))
    await node.components.rpc.handle(execProtocol(async (req, ctx) => {
      const c = node.components
      const v = await c.verifier.verify<Award>(req.award, { expectedFrom: ctx.peer, expectedTypes: ['Award.v1'], skipReplay: true })
      // an award carried by the call (`accept: true`) is taken as on /pl/negotiate
      if (req.accept === true && !p.awards.has(v.id)) p.awards.set(v.id, v.envelope.body)
      const award = p.awards.get(v.id)
      if (award == null || req.input == null) throw new Error('scripted provider: unknown award or no inline input')
      p.execs++
      const cfp = p.cfps.get(award.cfp) as CallForProposal
      const capability = cfp.capability.name
      const b = p.behaviours.get(capability) ?? {}
      const call = decodeCanonical<{ input_data: Record<string, unknown> }>(req.input)
      const output = (b.compute ?? ((d) => ({ echoed: d }))).call(null, call.input_data)
      const honestBytes = encodeCanonical(output)
      const outputCid = cidOfBytes(honestBytes).toString()
      const sentBytes = b.exec === 'wrong-output-bytes' ? encodeCanonical({ tampered: true }) : honestBytes
      const wall = award.limits.wall_ms ?? 1000
      const receipt: Receipt = {
        run: award.run,
        step: award.step,
        capability,
        provider: node.peerId,
        requester: ctx.peer,
        award: v.id,
        input: b.exec === 'wrong-input-cid' ? cidStringOf({ not: 'the input' }) : award.input,
        output: outputCid,
        status: 'ok',
        started: Date.now() - 5,
        ended: Date.now(),
        usage: { cpu_ms: 1, wall_ms: b.exec === 'usage-over-limits' ? wall + 5_000 : 5, mem_peak_mb: 10 },
        limits: award.limits,
        policies: cfp.policies ?? [],
        prev: award.prev ?? []
      }
      const result: Result = { award: v.id, run: award.run, step: award.step, status: 'ok', output: outputCid, usage: receipt.usage, receipt: signReceipt(node.components.identity, receipt) }
      return { status: 'OK', body: { result: c.sign('Result.v1', result, { to: ctx.peer }), output: sentBytes } }
    }))
    return p
  }
}

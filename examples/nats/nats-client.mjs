#!/usr/bin/env node
// A NATS-only requester: it has no libp2p at all. It publishes an open call
// for a capability on pl.v1.cfp.<name>, takes the providers' bids on its own
// negotiate subject, awards the cheapest, runs the step over
// pl.v1.<provider>.exec and checks the provider-signed receipt. It uses only
// the NATS client and the repo's envelope functions (build first: npm run build).
//
//   bash scripts/node.sh examples/nats/nats-client.mjs --url nats://127.0.0.1:4222 --capability Upper --input '{"text":"hi"}'
//
// Prints one JSON line: {provider, output, receipt: {cid, status, verified}}.
import { parseArgs } from 'node:util'
import { connect, createInbox } from '@nats-io/transport-node'
import { createIdentity } from '../../dist/src/core/identity.js'
import { SchemaRegistry } from '../../dist/src/spec/registry.js'
import { signEnvelope, envelopeId, EnvelopeVerifier } from '../../dist/src/core/envelope.js'
import { encodeCanonical, decodeCanonical, cidOfBytes, verifyBytes } from '../../dist/src/core/encoding.js'
import { encodeFrame, FrameDecoder } from '../../dist/src/net/frames.js'
import { signCall, verifyCall } from '../../dist/src/bridges/nats/index.js'
import { verifySignedReceipt, receiptCid } from '../../dist/src/receipts/index.js'

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'nats://127.0.0.1:4222' },
    prefix: { type: 'string', default: 'pl.v1' },
    capability: { type: 'string' },
    input: { type: 'string', default: '{}' },
    'reply-ms': { type: 'string', default: '3000' }
  }
})
if (args.capability == null) throw new Error('--capability <name> is required')
const prefix = args.prefix
const MAX = 16 * 1024 * 1024

const me = await createIdentity()
const registry = await SchemaRegistry.load()
const verifier = new EnvelopeVerifier(registry, undefined, { self: me.id })
const nc = await connect({ servers: args.url, noEcho: true })

/** One call: the request frame, signed with the caller proof, to <prefix>.<peer>.<name>; resolves with the final response frame. */
async function call (peer, name, request, onProgress = () => {}) {
  const subject = `${prefix}.${peer}.${name}`
  const payload = encodeFrame(request, MAX)
  const inbox = createInbox()
  const sub = nc.subscribe(inbox)
  nc.publish(subject, payload, { reply: inbox, headers: signCall(me, subject, payload) })
  const decoder = new FrameDecoder(MAX)
  const timer = setTimeout(() => sub.unsubscribe(), 60_000)
  try {
    for await (const m of sub) {
      if (m.headers?.code === 503) throw new Error(`nobody serves ${subject}`)
      decoder.push(m.data)
      for (let f = decoder.next(); f != null; f = decoder.next()) {
        if (f.value.status === 'PROGRESS') { onProgress(f.value.body); continue }
        return f.value
      }
    }
    throw new Error(`no answer on ${subject}`)
  } finally {
    clearTimeout(timer)
    sub.unsubscribe()
  }
}

// 1. serve our own negotiate subject: providers send their bids there
const bids = []
const negotiateSubject = `${prefix}.${me.id}.negotiate`
nc.subscribe(negotiateSubject, {
  callback: async (_err, msg) => {
    const answer = (res) => msg.respond(encodeFrame(res, 1024 * 1024))
    try {
      const from = await verifyCall(msg.subject, msg.data, msg.headers, { skewMs: 60_000, now: Date.now() })
      const d = new FrameDecoder(256 * 1024)
      d.push(msg.data)
      const { envelope } = d.next().value
      const v = verifier.verifyStateless(envelope, { expectedFrom: from, expectedTypes: ['Bid.v1', 'Decline.v1'] })
      if (v.envelope.type === 'Bid.v1') bids.push({ provider: from, id: v.id, envelope: v.envelope })
      answer({ status: 'OK', body: { received: true } })
    } catch (err) {
      answer({ status: 'REJECTED', error: { name: err.name, message: err.message } })
    }
  }
})
await nc.flush()

// 2. the step input is a document addressed by CID; the open call names it
const inputDoc = { input_data: JSON.parse(args.input), parameters: {}, settings: {}, global_settings: {}, global_parameters: {} }
const inputBytes = encodeCanonical(inputDoc)
const inputCid = cidOfBytes(inputBytes).toString()
const now = Date.now()
const replyBy = now + Number(args['reply-ms'])
const cfpBody = { run: `nats-client-${now}`, step: 'step', capability: { name: args.capability }, input: inputCid, input_size: inputBytes.byteLength, deadline: now + 60_000, reply_by: replyBy }
const cfp = signEnvelope(me, registry, 'CallForProposal.v1', cfpBody, { ttlMs: 30_000 })
nc.publish(`${prefix}.cfp.${args.capability}`, encodeCanonical(cfp))
await new Promise(resolve => setTimeout(resolve, replyBy - Date.now()))
const mine = bids.filter(b => b.envelope.body.cfp === envelopeId(cfp) && b.envelope.body.expires > Date.now())
if (mine.length === 0) throw new Error(`no bid for ${args.capability} within ${args['reply-ms']} ms`)
const best = mine.sort((a, b) => a.envelope.body.price - b.envelope.body.price)[0]

// 3. award the cheapest bid, then execute with the input inline
const bid = best.envelope.body
const award = signEnvelope(me, registry, 'Award.v1', {
  cfp: bid.cfp, bid: best.id, run: cfpBody.run, step: cfpBody.step, provider: best.provider, capability: bid.capability,
  input: inputCid, limits: bid.limits, price: bid.price, deadline: cfpBody.deadline, attempt: 1
}, { to: best.provider, ttlMs: 65_000 })
const ack = await call(best.provider, 'negotiate', { envelope: award })
if (ack.status !== 'OK') throw new Error(`award refused: ${ack.error?.name}: ${ack.error?.message}`)
const res = await call(best.provider, 'exec', { award, input: inputBytes })
if (res.status !== 'OK') throw new Error(`exec refused: ${res.error?.name}: ${res.error?.message}`)

// 4. check what came back: the Result is signed by the provider, the output hashes to its CID, the receipt verifies
const result = verifier.verifyStateless(res.body.result, { expectedFrom: best.provider, expectedTypes: ['Result.v1'] }).envelope.body
if (result.status !== 'ok') throw new Error(`the step failed: ${result.error?.name}: ${result.error?.message}`)
verifyBytes(result.output, res.body.output)
verifySignedReceipt(result.receipt)
console.log(JSON.stringify({
  provider: best.provider,
  output: decodeCanonical(res.body.output),
  receipt: { cid: receiptCid(result.receipt.receipt), status: result.receipt.receipt.status, verified: true }
}))
await nc.close()

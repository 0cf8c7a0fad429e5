import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createIdentity } from '../../src/core/index.js'
import { SchemaRegistry } from '../../src/spec/index.js'
import {
  checkOutputConstraints, constraintWarnings, parseLength, outputText, parseRequirement, checkCredentials, judgeRequirements,
  issueAttestation, checkAttestation, attestationCid, IoSchemas
} from '../../src/trust/index.js'

test('length: words or characters, at most / at least; only text outputs are measured', () => {
  assert.deepEqual(parseLength('<30w'), { atMost: 30, unit: 'words' })
  assert.deepEqual(parseLength('<= 400 chars'), { atMost: 400, unit: 'characters' })
  assert.deepEqual(parseLength('>10w'), { atLeast: 10, unit: 'words' })
  assert.throws(() => parseLength('short'), { name: 'ConstraintSyntaxError' })
  assert.equal(outputText('plain'), 'plain')
  assert.equal(outputText({ heading: 'h', summary: 's' }), 's')
  assert.equal(outputText([{ text: 'a' }]), undefined)
  checkOutputConstraints({ length: '<3w' }, { summary: 'one two three' }, 10)
  checkOutputConstraints({ length: '<3w' }, [{ text: 'one two three four' }], 10)
  assert.throws(() => checkOutputConstraints({ length: '<3w' }, 'one two three four', 10), (err: any) => {
    assert.equal(err.name, 'ConstraintViolationError')
    assert.deepEqual({ c: err.details.constraint, l: err.details.limit, m: err.details.measured }, { c: 'length', l: '<3w', m: 4 })
    assert.equal(err.retryable, true)
    return true
  })
  assert.throws(() => checkOutputConstraints({ length: '>5c' }, 'abc', 10), /at least 5 required/)
  assert.throws(() => checkOutputConstraints({ max_output_bytes: 8 }, 'x', 9), (err: any) => err.details.measured === 9)
  assert.deepEqual(constraintWarnings({ length: '<3w', 'x-tone': 'formal', colour: 'red' }), [
    'constraint x-tone is an extension: passed to modules, not checked',
    'constraint colour is not in the vocabulary (length, max_output_bytes, deadline, max_price, x-*): passed to modules, not checked'
  ])
})

test('requirements parse as key=value, key, or a policy CID', () => {
  assert.deepEqual(parseRequirement('region=eu-west', 'p', false), { text: 'region=eu-west', key: 'region', value: 'eu-west', selfAttest: false, policy: 'p' })
  assert.deepEqual(parseRequirement('soc2', 'p', true), { text: 'soc2', key: 'soc2', value: true, selfAttest: true, policy: 'p' })
  const cid = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
  assert.equal(parseRequirement(`cid:${cid}`, 'p', false).key, 'policy')
})

test('an issuer trusted only for some claims cannot vouch for others; a policy CID needs satisfied: true', async () => {
  const issuer = await createIdentity()
  const subject = (await createIdentity()).id
  const now = Date.now()
  const cid = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
  const atts = [
    issueAttestation(issuer, { subject, claims: { region: 'eu-west', audit: 'pii' }, nbf: now - 1000, exp: now + 3_600_000 }),
    issueAttestation(issuer, { subject, claims: { policy: cid, satisfied: false }, nbf: now - 1000, exp: now + 3_600_000 })
  ]
  const issuers = [{ key: issuer.id, claims: ['region'] }]
  const creds = checkCredentials(atts, { provider: subject, now, issuers, isRevoked: () => false })
  assert.equal(creds.valid.length, 2)
  assert.match(judgeRequirements([parseRequirement('audit=pii', 'p', false)], undefined, creds, [], issuers).reason ?? '', /not attested by a trusted issuer/)
  assert.deepEqual(judgeRequirements([], ['eu-west'], creds, [], issuers), { admitted: [attestationCid(atts[0])], selfAttested: [] })
  assert.match(judgeRequirements([parseRequirement(cid, 'p', false)], undefined, creds, [], [{ key: issuer.id }]).reason ?? '', /not attested/)
})

test('bad attestations are typed: malformed claims, exp before nbf, forged signature, wrong capability', async () => {
  const issuer = await createIdentity()
  const subject = (await createIdentity()).id
  const att = issueAttestation(issuer, { subject, claims: { a: 1 }, exp: Date.now() + 3_600_000, capability: 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' })
  checkAttestation(att)
  assert.throws(() => checkAttestation({ ...att, claims: {} }), { name: 'AttestationMalformedError' })
  assert.throws(() => checkAttestation({ ...att, claims: { a: 'x'.repeat(201) } }), { name: 'AttestationMalformedError' })
  assert.throws(() => checkAttestation({ ...att, exp: att.nbf }), { name: 'AttestationMalformedError' })
  assert.throws(() => checkAttestation({ ...att, subject: issuer.id }), { name: 'AttestationSignatureError' })
  assert.throws(() => checkAttestation({ ...att, extra: 1 }), { name: 'AttestationMalformedError' })
  const creds = checkCredentials([att], { provider: subject, capability: 'bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku', now: Date.now(), issuers: [{ key: issuer.id }], isRevoked: () => false })
  assert.equal(creds.rejected[0].error.name, 'AttestationSubjectMismatchError')
})

test('io schemas are compiled once per schema CID and name the failing path', async () => {
  const io = new IoSchemas(SchemaRegistry.loadSync())
  const schema = { type: 'object', required: ['text'], properties: { text: { type: 'string' } } }
  await io.check('input', schema, { text: 'x' })
  await io.check('input', { ...schema }, { text: 'y' })
  assert.equal(io.compiles, 1)
  await assert.rejects(io.check('output', schema, { text: 1 }), (err: any) => err.name === 'OutputSchemaError' && /\/text must be string/.test(err.message))
  await assert.rejects(io.check('input', schema, {}), { name: 'InputSchemaError' })
  await io.check('input', {}, 'anything')
  await io.check('input', 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', 'unknown schema CID: not checked here')
})

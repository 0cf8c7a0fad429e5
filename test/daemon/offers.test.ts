import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseOffers, readOffer } from '../../src/offers.js'
import { swarmOffers } from '../../src/swarm/index.js'
import { tempDir } from '../helpers/tmp.js'

test('every sample capability descriptor of the swarm profiles reads, with its module folder', async () => {
  const files = new Set([1, 2, 3, 4].flatMap(i => swarmOffers(i).map(o => o.file)))
  assert.equal(files.size, 4)
  for (const file of files) {
    const { descriptor, impl } = await readOffer({ file })
    assert.equal(typeof descriptor.name, 'string')
    assert.equal('impl' in descriptor, false, 'impl is not part of the descriptor')
    assert.ok(impl?.dir?.endsWith('/module'))
  }
})

test('the profiles give Summarize one provider without the PII attestation (it declines policy-bound calls)', () => {
  const summarizers = [1, 2, 3, 4].flatMap(i => swarmOffers(i).filter(o => o.file.includes('/summarize/')).map(o => ({ i, o })))
  assert.ok(summarizers.length >= 3)
  assert.equal(summarizers.filter(s => s.o.attestations?.length === 0).length, 1)
})

test('bad capability offers fail with OfferConfigError naming the entry', async () => {
  assert.deepEqual(parseOffers(undefined), [])
  assert.deepEqual(parseOffers(['a.yaml']), [{ file: 'a.yaml' }])
  assert.throws(() => parseOffers({}), { name: 'OfferConfigError', message: /must be a list/ })
  assert.throws(() => parseOffers([{ price: 1 }]), { name: 'OfferConfigError', message: /capabilities\[0\] needs a descriptor file/ })
  assert.throws(() => parseOffers([{ file: 'x', price: -1 }]), { name: 'OfferConfigError', message: /price must be a number/ })
  const t = await tempDir()
  try {
    await assert.rejects(readOffer({ file: join(t.dir, 'missing.yaml') }), { name: 'OfferConfigError', message: /ENOENT/ })
    await writeFile(join(t.dir, 'bad.yaml'), 'name: [unclosed')
    await assert.rejects(readOffer({ file: join(t.dir, 'bad.yaml') }), { name: 'OfferConfigError', message: /not valid JSON or YAML/ })
    await writeFile(join(t.dir, 'list.json'), '[1]')
    await assert.rejects(readOffer({ file: join(t.dir, 'list.json') }), { name: 'OfferConfigError', message: /must be a mapping/ })
  } finally { await t.cleanup() }
})

test('docker/configs/provider-N.yaml publish what the swarm profiles publish', async () => {
  const { readFile } = await import('node:fs/promises')
  const { parse } = await import('yaml')
  const { packageRoot } = await import('../../src/core/paths.js')
  for (let i = 1; i <= 4; i++) {
    const doc = parse(await readFile(join(packageRoot(), 'docker', 'configs', `provider-${i}.yaml`), 'utf8'))
    const inContainer = swarmOffers(i).map(o => ({ ...o, file: o.file.replace(/^.*\/examples\//, '/app/examples/') }))
    assert.deepEqual(doc.services.capabilities, inContainer, `provider-${i}.yaml`)
  }
})

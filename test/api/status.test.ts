import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { TestMesh } from '../helpers/mesh.js'
import { exec } from '../../src/exec/index.js'
import { discovery } from '../../src/discovery/index.js'

test('the control API answers bad input with 400 and the area\'s error (a plan that does not compile, a malformed capability), not 500', async () => {
  const mesh = await TestMesh.start({ nodes: 1, controlApi: true, services: () => ({ exec: exec(), discovery: discovery() }) })
  try {
    const { url, token } = JSON.parse(await readFile(join(mesh.nodes[0].components.dataDir, 'control.json'), 'utf8'))
    const post = async (body: unknown, path = '/runs'): Promise<{ status: number, json: any }> => {
      const res = await fetch(`${String(url)}${path}`, { method: 'POST', headers: { authorization: `Bearer ${String(token)}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
      return { status: res.status, json: await res.json() }
    }
    const unknownRef = await post({ plan: 'goal: G\nplan:\n  - step: Summarize(nothing)\n' })
    assert.equal(unknownRef.status, 400)
    assert.equal(unknownRef.json.error.name, 'UnknownReferenceError')
    assert.match(unknownRef.json.error.message, /3:\d+/, 'the message points at the line')
    const badYaml = await post({ plan: 'goal: [unclosed' })
    assert.equal(badYaml.status, 400)
    const neither = await post({})
    assert.equal(neither.status, 400)
    assert.equal(neither.json.error.name, 'InvalidRequestError')
    // each area declares its own bad-input errors: a malformed capability is 400 too
    const badCap = await post({ nodescriptor: true }, '/caps')
    assert.equal(badCap.status, 400)
    assert.equal(badCap.json.error.name, 'InvalidDescriptorError')
    const missingRun = await post({ step: 'x', choice: 'y' }, '/runs/nope/decide')
    assert.equal(missingRun.status, 404)
  } finally {
    await mesh.stop()
  }
})

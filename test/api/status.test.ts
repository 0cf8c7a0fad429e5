import '../../src/polyfill.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { TestMesh } from '../helpers/mesh.js'
import { exec } from '../../src/exec/index.js'

test('the control API answers a plan that does not compile with 400 and the workflow error, not 500', async () => {
  const mesh = await TestMesh.start({ nodes: 1, controlApi: true, services: () => ({ exec: exec() }) })
  try {
    const { url, token } = JSON.parse(await readFile(join(mesh.nodes[0].components.dataDir, 'control.json'), 'utf8'))
    const post = async (body: unknown): Promise<{ status: number, json: any }> => {
      const res = await fetch(`${String(url)}/runs`, { method: 'POST', headers: { authorization: `Bearer ${String(token)}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
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
  } finally {
    await mesh.stop()
  }
})

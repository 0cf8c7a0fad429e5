import { test } from 'node:test'
import assert from 'node:assert/strict'
import { packageOf, profileTotals, summariseProfile, type CpuProfile } from '../../bench/scale/profile-summary.js'

test('packageOf names node_modules packages, src areas, node internals and special frames', () => {
  assert.equal(packageOf('file:///w/node_modules/@libp2p/gossipsub/dist/src/gossipsub.js'), '@libp2p/gossipsub')
  assert.equal(packageOf('file:///w/node_modules/uint8arraylist/dist/src/index.js'), 'uint8arraylist')
  assert.equal(packageOf('file:///w/dist/src/net/gossip.js'), 'src/net/')
  assert.equal(packageOf('file:///w/dist/src/node.js'), 'src/node.js')
  assert.equal(packageOf('node:internal/streams/readable'), 'node:internal')
  assert.equal(packageOf('', '(garbage collector)'), '(garbage collector)')
  assert.equal(packageOf('', 'writeBuffer'), '(native)')
})

test('profileTotals splits sampled time into self and inclusive time, a recursive frame counted once per stack', () => {
  const frame = (functionName: string, url: string): CpuProfile['nodes'][number]['callFrame'] => ({ functionName, url, lineNumber: 0 })
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 5] },
      { id: 2, callFrame: frame('heartbeat', 'file:///w/node_modules/@libp2p/gossipsub/x.js'), children: [3] },
      { id: 3, callFrame: frame('heartbeat', 'file:///w/node_modules/@libp2p/gossipsub/x.js'), children: [4] },
      { id: 4, callFrame: frame('seal', 'file:///w/node_modules/@chainsafe/libp2p-noise/x.js') },
      { id: 5, callFrame: frame('(idle)', '') }
    ],
    samples: [4, 4, 3, 5],
    timeDeltas: [0, 1000, 1000, 1000]
  }
  const t = profileTotals(profile)
  assert.equal(t.totalMs, 4)
  assert.equal(t.byPackage.get('@chainsafe/libp2p-noise'), 2)
  assert.equal(t.byPackage.get('@libp2p/gossipsub'), 1)
  assert.equal(t.inclusive.get('heartbeat @libp2p/gossipsub:1'), 3)
  assert.equal(t.inclusive.get('(root) (root):1'), 4)
  assert.match(summariseProfile(profile, 3), /self time by package:\n\s+50\.0 %\s+2 ms\s+@chainsafe\/libp2p-noise/)
})

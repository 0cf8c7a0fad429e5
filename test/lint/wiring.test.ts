/**
 * The wiring is checked by the compiler (docs/ARCHITECTURE.md "Wiring"): each
 * `@ts-expect-error` below must be an error, or `tsc -p .` (the build, and so
 * `npm test`) fails with "Unused '@ts-expect-error' directive".
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { defineServices, type ServiceComponents } from '../../src/node.js'
import { discovery, type Discovery } from '../../src/discovery/index.js'
import { receipts } from '../../src/receipts/index.js'
import { exec } from '../../src/exec/index.js'
import { negotiation } from '../../src/negotiation/index.js'
import { attached } from '../../src/bridges/attached/index.js'
import { trust } from '../../src/trust/index.js'

/** A service that cannot run without discovery, as the daemon's exec is wired. */
const needsDiscovery = (c: ServiceComponents<{ discovery: Discovery }>) => exec({ localCapabilities: (name, version) => c.services.discovery.localCapability(name, version) })(c)

test('a complete map compiles, and defineServices keeps its start order', () => {
  const map = defineServices({ discovery: discovery(), receipts: receipts(), exec: needsDiscovery, negotiation: negotiation(), attached: attached() })
  assert.deepEqual(Object.keys(map), ['discovery', 'receipts', 'exec', 'negotiation', 'attached'])
})

test('a missing, mistyped or misspelt dependency does not compile', () => {
  // @ts-expect-error exec needs discovery, which this map lacks
  defineServices({ receipts: receipts(), exec: needsDiscovery })
  // @ts-expect-error attached needs exec and discovery
  defineServices({ discovery: discovery(), attached: attached() })
  // @ts-expect-error negotiation's `trust` must be a TrustService
  defineServices({ trust: receipts(), negotiation: negotiation() })
  // a dependency named wrongly where it is used
  // @ts-expect-error `discovry` is no service of exec's
  const misspelt = (c: ServiceComponents<{ discovery: Discovery }>) => exec({ localCapabilities: (name) => c.services.discovry.localCapability(name) })(c)
  // optional dependencies may be absent
  const optional = defineServices({ trust: trust(), negotiation: negotiation() })
  assert.equal(typeof misspelt, 'function')
  assert.deepEqual(Object.keys(optional), ['trust', 'negotiation'])
})

/**
 * docker/compose.yaml and docker/configs without an engine: the providers
 * publish the swarm profiles of src/swarm/profiles.ts, and the file keeps
 * the properties the swarm relies on (one image, health checks, volumes).
 */
import test from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { parse } from 'yaml'
import { packageRoot } from '../../src/core/paths.js'
import { swarmOffers, COMPOSE_SERVICES } from '../../src/swarm/index.js'

const root = packageRoot()
const compose = parse(readFileSync(join(root, 'docker', 'compose.yaml'), 'utf8'), { merge: true })

test('each compose provider publishes the capabilities of its swarm profile', () => {
  for (let i = 1; i <= 4; i++) {
    const config = parse(readFileSync(join(root, 'docker', 'configs', `provider-${i}.yaml`), 'utf8'))
    const inImage = config.services.capabilities.map((o: { file: string }) => ({ ...o, file: o.file.replace(/^\/app\//, root + '/') }))
    assert.deepEqual(inImage, swarmOffers(i), `provider-${i}`)
    assert.equal(compose.services[`provider-${i}`].environment.PL_CONFIG, `/app/docker/configs/provider-${i}.yaml`)
  }
})

test('compose: one built image, init, health checks, providers wait for a healthy bootstrap, named volumes, no manual variable', () => {
  assert.deepEqual(Object.keys(compose.services), COMPOSE_SERVICES)
  assert.equal(Object.values(compose.services).filter((s: any) => s.build != null).length, 1, 'only the bootstrap builds')
  for (const name of COMPOSE_SERVICES) {
    const s = compose.services[name]
    assert.equal(s.image, '${PL_IMAGE:-pl-node:local}', name)
    assert.equal(s.init, true, name)
    assert.deepEqual(s.healthcheck.test, ['CMD', 'pl-node', 'health'], name)
    assert.match(s.volumes[0], new RegExp(`^${name}-data:/data$`), name)
    assert.ok(compose.volumes[`${name}-data`] != null, name)
    if (name !== 'bootstrap') {
      assert.deepEqual(s.depends_on, { bootstrap: { condition: 'service_healthy' } }, name)
      assert.equal(s.environment.PL_BOOTSTRAP, '/dns4/bootstrap/tcp/4001', name)
      assert.ok(s.command.includes('--learn-bootstrap-ids'), name)
    }
  }
  assert.equal(compose.name, undefined, 'no top-level name: docker-compose v1 does not read it')
  const text = readFileSync(join(root, 'docker', 'compose.yaml'), 'utf8')
  assert.doesNotMatch(text, /\$\{[A-Z_]+:\?/, 'no variable is required')
})

test('both compose tools read the file the same way: `docker compose` (v2) and `docker-compose` (v1) `config`', (t) => {
  const file = join(root, 'docker', 'compose.yaml')
  const tools: Array<[string, string[]]> = [['docker', ['compose']], ['docker-compose', []]]
  const services: Record<string, string[]> = {}
  for (const [cmd, pre] of tools) {
    const name = [cmd, ...pre].join(' ')
    if (spawnSync(cmd, [...pre, 'version'], { stdio: 'ignore' }).status !== 0) { t.diagnostic(`${name} is not installed (scripts/docker-engine.sh installs both): not checked`); continue }
    // `config` parses, merges and validates the file against the tool's own schema, no engine needed
    const res = spawnSync(cmd, [...pre, '-f', file, '-p', 'pl-config-check', 'config', '--services'], { encoding: 'utf8', cwd: root })
    assert.equal(res.status, 0, `${name} config: ${res.stderr}`)
    services[name] = res.stdout.trim().split('\n').sort()
    assert.deepEqual(services[name], [...COMPOSE_SERVICES].sort(), name)
  }
})

/**
 * The web console in a real Chromium (playwright-core, Debian's chromium):
 * a 3-node mesh where node 0 (the requester, gateway + console) installs no
 * capabilities and nodes 1 and 2 offer the SummarizeDocument plan's steps.
 * Signs in with a one-time login link, runs the summarize plan and follows
 * it live, answers a human decision by clicking, checks receipts in the
 * browser (and a tampered export failing), and checks accessibility (axe-core,
 * keyboard) on every page. Screenshots go to a temp folder printed at start.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile, mkdir, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { type TestMesh, waitFor } from '../helpers/mesh.js'
import { tempDir } from '../helpers/tmp.js'
import { gw, http, oneModuleWorkflow, startMesh } from '../gateway/helpers.js'
import { DEMO_POLICY_FILE, swarmOffers } from '../../src/swarm/index.js'
import { packBundle } from '../../src/workflow/index.js'
import { readDescriptorFile } from '../../src/discovery/descriptor-file.js'
import type { Discovery } from '../../src/discovery/index.js'
import { launchChromium, axeViolations, unreachableByKeyboard } from './browser.js'

const CAPS = ['FetchSections', 'Summarize', 'MergeSummaries', 'AttachReferences']
let mesh: TestMesh
let base: string
let admin: string
let out: { dir: string, cleanup: () => Promise<void> }
let browser: { context: BrowserContext, close: () => Promise<void> }
let page: Page
let summarizeRun: string

async function shot (name: string): Promise<string> {
  const file = join(out.dir, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  return file
}

async function noSeriousA11yProblems (where: string): Promise<void> {
  const v = await axeViolations(page)
  assert.deepEqual(v, [], `${where}: axe-core found serious/critical violations`)
}

before(async () => {
  out = await tempDir('pl-ui-test-')
  process.stdout.write(`# console screenshots in ${out.dir}\n`)
  // node 1 also offers a second Summarize, so that step has competing bids to explain
  const summarize2 = swarmOffers(3).filter(o => o.file.includes('/summarize/'))
  // the plan names its policy by CID: every node stores it, as swarm nodes do
  mesh = await startMesh(3, (i) => i === 0 ? {} : undefined, (i) => i === 1 ? [...swarmOffers(1), ...summarize2] : i === 2 ? swarmOffers(2) : [], () => ({}), () => ({ trust: { policies: [DEMO_POLICY_FILE] } }))
  base = gw(mesh.nodes[0]).address as string
  admin = (await gw(mesh.nodes[0]).keys.create({ name: 'root', scopes: 'admin' })).key
  await mesh.connected(2, 60_000)
  await waitFor(async () => {
    for (const name of CAPS) {
      const found = await http(base, 'GET', `/capabilities/find?name=${name}&timeout=2000`, { key: admin })
      if (found.status !== 200 || found.body.length === 0) return false
    }
    return true
  }, 90_000, 'node 0 to find every capability of the summarize plan')
  browser = await launchChromium()
  page = await browser.context.newPage()
})

after(async () => {
  await browser?.close()
  await mesh?.stop()
  // screenshots stay for inspection (their folder was printed); only an empty run cleans up
})

test('the console build is under its 300 KB budget and is served with cache headers and a strict CSP', async () => {
  const report = JSON.parse(await readFile('dist/ui/build.json', 'utf8'))
  const js = (await stat(join('dist/ui/assets', report.js))).size
  const css = (await stat(join('dist/ui/assets', report.css))).size
  process.stdout.write(`# console initial load: ${js} B JS + ${css} B CSS = ${((js + css) / 1024).toFixed(1)} KB\n`)
  assert.ok(js + css < 300 * 1024, `initial load ${js + css} bytes`)
  const index = await fetch(`${base}/ui/`)
  assert.equal(index.status, 200)
  assert.equal(index.headers.get('cache-control'), 'no-cache')
  const csp = index.headers.get('content-security-policy') ?? ''
  assert.match(csp, /script-src 'self'/)
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/)
  const html = await index.text()
  assert.ok(html.includes(`assets/${report.js as string}`))
  assert.doesNotMatch(html, /https?:\/\//, 'nothing is loaded from another origin')
  const asset = await fetch(`${base}/ui/assets/${report.js as string}`)
  assert.equal(asset.status, 200)
  assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable')
  assert.match(asset.headers.get('content-type') ?? '', /javascript/)
  const bare = await fetch(`${base}/ui`)
  assert.deepEqual([bare.status, await bare.text()], [200, html], '/ui is /ui/')
})

test('bad console requests get typed errors, are counted, and the node keeps serving', async () => {
  const missing = await http(base, 'GET', '/ui/assets/nope-123.js')
  assert.deepEqual([missing.status, missing.body.error.name], [404, 'RouteNotFoundError'])
  const traversal = await http(base, 'GET', '/ui/assets/..%2Fbuild.json')
  assert.equal(traversal.status, 400)
  const unknown = await http(base, 'POST', '/ui/session', { body: { token: 'pll_not-a-token' } })
  assert.deepEqual([unknown.status, unknown.body.error.name], [401, 'InvalidLoginTokenError'])
  const noToken = await http(base, 'POST', '/ui/session', { body: { key: 'x' } })
  assert.deepEqual([noToken.status, noToken.body.error.name], [400, 'RequestValidationError'])
  const { token } = gw(mesh.nodes[0]).loginTokens.issue(['read'])
  const first = await http(base, 'POST', '/ui/session', { body: { token } })
  assert.equal(first.status, 200)
  assert.deepEqual(first.body.scopes, ['read'])
  assert.ok(first.body.expires > Date.now())
  const again = await http(base, 'POST', '/ui/session', { body: { token } })
  assert.deepEqual([again.status, again.body.error.name], [401, 'InvalidLoginTokenError'], 'a login token works once')
  const session = await http(base, 'GET', '/runs', { key: first.body.key })
  assert.equal(session.status, 200, 'the session key is an API key with the token\'s scopes')
  assert.equal((await http(base, 'POST', '/runs/x/cancel', { key: first.body.key })).status, 403)
  const node = await http(base, 'GET', '/node', { key: admin })
  assert.equal(node.status, 200)
  assert.ok(node.body.rejected['gateway/InvalidLoginTokenError'] >= 2, JSON.stringify(node.body.rejected))
  const badFind = await http(base, 'GET', '/capabilities/find?name=X&timeout=soon', { key: admin })
  assert.deepEqual([badFind.status, badFind.body.error.name], [400, 'RequestValidationError'])
  const noCap = await http(base, 'DELETE', '/capabilities/NoSuchCapability', { key: admin })
  assert.deepEqual([noCap.status, noCap.body.error.name], [404, 'CapabilityNotFoundError'])
  const reader = (await gw(mesh.nodes[0]).keys.create({ name: 'console-reader', scopes: ['read'] })).key
  assert.equal((await http(base, 'DELETE', '/capabilities/NoSuchCapability', { key: reader })).status, 403)
  const badGraph = await http(base, 'POST', '/dsl-graph/x/graph', { key: admin, body: { dsl: 'goal: X\nplan: 3\n' } })
  assert.equal(badGraph.status, 400, JSON.stringify(badGraph.body))
  assert.equal((await http(base, 'GET', '/health')).status, 200, 'the node keeps serving')
})

test('a capability this node publishes is listed and can be unpublished (publish scope); a graph compiles without running', async () => {
  const discovery = mesh.nodes[0].service<Discovery>('discovery')
  const { descriptor } = await readDescriptorFile(resolve('examples/capabilities/attach-references/capability.yaml'))
  const { cid } = await discovery.publish({ ...descriptor, name: 'ConsoleScratch' } as any)
  const list = await http(base, 'GET', '/capabilities', { key: admin })
  assert.ok(list.body.local.some((c: any) => c.cid === cid))
  assert.ok(list.body.catalog.length >= CAPS.length, 'the mesh catalog holds what nodes 1 and 2 advertise')
  const removed = await http(base, 'DELETE', `/capabilities/${cid}`, { key: admin })
  assert.deepEqual([removed.status, removed.body.removed], [200, [cid]])
  assert.ok(!(await http(base, 'GET', '/capabilities', { key: admin })).body.local.some((c: any) => c.cid === cid))
  const graph = await http(base, 'POST', '/dsl-graph/summarize/graph', { key: admin, body: { dsl: await readFile('examples/plans/summarize.yaml', 'utf8') } })
  assert.equal(graph.status, 200, JSON.stringify(graph.body))
  assert.deepEqual(Object.keys(graph.body.dag.steps).sort(), ['0-fetchsections', '1-summarize', '2-mergesummaries', '3-attachreferences'])
})

test('GET /node reports connections with direction and latency, the DHT table and gossip mesh', async () => {
  const node = await http(base, 'GET', '/node', { key: admin })
  assert.equal(node.status, 200)
  assert.equal(node.body.peerId, mesh.nodes[0].peerId)
  assert.ok(node.body.connections.length >= 2)
  for (const c of node.body.connections) {
    assert.ok(['inbound', 'outbound'].includes(c.direction))
    assert.equal(typeof c.latencyMs, 'number', `latency of ${String(c.peer)}`)
  }
  assert.ok(node.body.dht.routingTable >= 1)
  assert.ok(node.body.gossip.topics.some((t: any) => t.topic === 'pl/v1/catalog'), JSON.stringify(node.body.gossip.topics))
  assert.ok(node.body.metrics.some((m: any) => m.name === 'pl_rpc_total'))
})

test('a one-time login link signs the browser in; the token leaves the address bar', async () => {
  const { token } = gw(mesh.nodes[0]).loginTokens.issue(['admin'])
  await page.goto(`${base}/ui/#login=${token}`)
  await page.getByRole('navigation', { name: 'Pages' }).waitFor({ timeout: 30_000 })
  assert.equal(new URL(page.url()).hash, '#/runs')
  const key = await page.evaluate(() => sessionStorage.getItem('pl.apiKey'))
  assert.match(String(key), /^plk_/)
  const reused = await http(base, 'POST', '/ui/session', { body: { token } })
  assert.equal(reused.body.error.name, 'InvalidLoginTokenError')
})

test('the summarize plan runs live on the run page: DAG with every step, completed without reload, explanation names the winner', async () => {
  const doc = await http(base, 'POST', '/blocks', { key: admin, body: { doc: await readFile('examples/documents/mesh-notes.md', 'utf8') } })
  const dsl = await readFile('examples/plans/summarize.yaml', 'utf8')
  const dep = await http(base, 'POST', '/dsl-graph/summarize/deploy', { key: admin, body: { dsl, input: { doc: `cid:${doc.body.cid as string}` } } })
  assert.equal(dep.status, 200, JSON.stringify(dep.body))
  summarizeRun = dep.body.runId
  await page.goto(`${base}/ui/#/runs/${summarizeRun}`)
  await page.evaluate(() => { (globalThis as any).plNoReload = true })
  await page.locator('svg[aria-label="Run DAG"] g[data-node]').first().waitFor({ timeout: 30_000 })
  await page.locator('[data-testid="run-state"][data-state="succeeded"]').waitFor({ timeout: 180_000 })
  assert.equal(await page.evaluate(() => (globalThis as any).plNoReload), true, 'the page was not reloaded')
  const view = await http(base, 'GET', `/runs/${summarizeRun}`, { key: admin })
  assert.equal(view.body.run.state, 'succeeded')
  const dag = await http(base, 'GET', `/blocks/${view.body.run.dag as string}`, { key: admin })
  const ids = Object.keys(dag.body.doc.steps).sort()
  await waitFor(async () => (await page.locator('svg[aria-label="Run DAG"] g[data-node][data-state="succeeded"]').count()) === ids.length, 30_000, 'every DAG node to show succeeded')
  const drawn = (await page.locator('svg[aria-label="Run DAG"] g[data-node]').evaluateAll(els => els.map(e => e.getAttribute('data-node')))).sort()
  assert.deepEqual(drawn, ids)
  // fan-outs are collapsed into their map node with counts
  assert.match(await page.locator('g[data-node="1-summarize"] .sub').textContent() ?? '', /×\d+ \(\d+ done\)/)
  const summarize = view.body.steps.find((s: any) => s.key === '1-summarize[0]')
  const winner = page.locator('.explanation[data-step="1-summarize[0]"] .winner')
  await winner.waitFor({ timeout: 30_000, state: 'attached' })
  assert.equal(await winner.getAttribute('title'), summarize.executor, 'the explanation names the provider that ran the step')
  await page.locator('#step-pick').selectOption('3-attachreferences')
  await page.getByRole('button', { name: 'Download output' }).first().waitFor()
  process.stdout.write(`# run page: ${await shot('run')}\n`)
  if (process.env.PL_UI_DOCS_SCREENSHOT != null) await page.screenshot({ path: resolve(process.env.PL_UI_DOCS_SCREENSHOT), clip: { x: 0, y: 0, width: 1280, height: 900 } })
  await noSeriousA11yProblems('run page')
  assert.deepEqual(await unreachableByKeyboard(page), [], 'run page controls reachable by keyboard')
})

test('receipts are verified in the browser; a tampered export shows as failed', async () => {
  assert.ok(summarizeRun != null)
  await page.goto(`${base}/ui/#/receipts/${summarizeRun}`)
  const verdict = page.locator('[data-testid="chain-verdict"]').first()
  await verdict.waitFor({ timeout: 30_000 })
  assert.equal(await verdict.getAttribute('data-verdict'), 'verified', await verdict.textContent() ?? '')
  const rows = await page.locator('tr[data-receipt]').evaluateAll(els => els.map(e => e.getAttribute('data-verified')))
  assert.ok(rows.length >= 4)
  assert.ok(rows.every(r => r === 'true'))
  await shot('receipts')
  await noSeriousA11yProblems('receipts page')
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download export' }).click()])
  const saved = JSON.parse(await readFile(await dl.path(), 'utf8'))
  assert.equal(saved.root, (await http(base, 'GET', `/runs/${summarizeRun}/receipts`, { key: admin })).body.root)

  const exported = await http(base, 'GET', `/runs/${summarizeRun}/receipts`, { key: admin })
  const tampered = structuredClone(exported.body)
  tampered.receipts[0].receipt.usage.wall_ms += 1
  const file = join(out.dir, 'tampered-receipts.json')
  await writeFile(file, JSON.stringify(tampered))
  await page.locator('input[type="file"]').setInputFiles(file)
  const fileVerdict = page.locator('section[aria-label="Checked file"] [data-testid="chain-verdict"]')
  await fileVerdict.waitFor({ timeout: 30_000 })
  assert.equal(await fileVerdict.getAttribute('data-verdict'), 'failed')
  assert.equal(await page.locator('section[aria-label="Checked file"] tr[data-verified="false"]').count(), 1)
  await shot('receipts-tampered')
})

test('a human decision is answered by clicking and the run completes; another run is cancelled by its button', async () => {
  const wf = await tempDir('pl-ui-wf-')
  try {
    const dir = await oneModuleWorkflow(wf.dir, 'ask', "const c = await context.human.ask({ question: 'Ship it?', choices: ['yes', 'no'] }); return { choice: c }")
    await mkdir(dir, { recursive: true })
    const put = await http(base, 'POST', '/blocks', { key: admin, raw: await packBundle(dir), headers: { 'content-type': 'application/zip' } })
    const dep = await http(base, 'POST', '/dsl-graph/ask/deploy', { key: admin, body: { bundle: put.body.cid } })
    assert.equal(dep.status, 200, JSON.stringify(dep.body))
    await page.goto(`${base}/ui/#/runs/${dep.body.runId as string}`)
    const yes = page.locator('button[data-choice="yes"]')
    await yes.waitFor({ timeout: 60_000 })
    await shot('decision')
    await noSeriousA11yProblems('run page with a decision')
    await yes.click()
    await page.locator('[data-testid="run-state"][data-state="succeeded"]').waitFor({ timeout: 60_000 })
    const view = await http(base, 'GET', `/runs/${dep.body.runId as string}`, { key: admin })
    assert.deepEqual(view.body.output, { choice: 'yes' })
    // a second one is cancelled from its page instead
    const other = await http(base, 'POST', '/dsl-graph/ask/deploy', { key: admin, body: { bundle: put.body.cid } })
    await page.goto(`${base}/ui/#/runs/${other.body.runId as string}`)
    await page.locator('button[data-choice="no"]').waitFor({ timeout: 60_000 })
    await page.getByRole('button', { name: 'Cancel run' }).click()
    await page.locator('[data-testid="run-state"][data-state="cancelled"]').waitFor({ timeout: 60_000 })
  } finally {
    await wf.cleanup()
  }
})

test('Node, Capabilities, Workflows and Runs pages render from the API, pass axe-core and are keyboard-reachable', async () => {
  await page.goto(`${base}/ui/#/node`)
  await page.locator('[data-testid="peer-id"]').waitFor({ timeout: 30_000 })
  assert.equal(await page.locator('[data-testid="peer-id"]').textContent(), mesh.nodes[0].peerId)
  await page.locator('.spark canvas').first().waitFor()
  await shot('node')
  await noSeriousA11yProblems('node page')
  assert.deepEqual(await unreachableByKeyboard(page), [], 'node page')

  await page.goto(`${base}/ui/#/capabilities`)
  await page.locator('tr[data-cap="Summarize"]').first().waitFor({ timeout: 30_000 })
  await page.getByLabel('Name').fill('Summarize')
  await page.getByRole('button', { name: 'Find' }).click()
  await page.locator('table caption', { hasText: 'Found' }).waitFor({ timeout: 30_000 })
  await shot('capabilities')
  await noSeriousA11yProblems('capabilities page')
  assert.deepEqual(await unreachableByKeyboard(page), [], 'capabilities page')

  const plan = await readFile('examples/plans/summarize.yaml', 'utf8')
  const reg = await http(base, 'POST', '/workflows', { key: admin, body: { workflow_id: 'summarize-doc', plan } })
  assert.ok([200, 201].includes(reg.status), JSON.stringify(reg.body))
  await page.goto(`${base}/ui/#/workflows`)
  const card = page.locator('article[data-workflow="summarize-doc"]')
  await card.waitFor({ timeout: 30_000 })
  // the input form comes from the plan's declared inputs, prefilled with their defaults
  assert.equal(await card.getByLabel('doc', { exact: true }).inputValue(), 'cid:doc-123')
  await card.locator('summary', { hasText: 'Graph' }).click()
  await waitFor(async () => (await card.locator('svg g[data-node]').count()) === 4, 30_000, 'the workflow graph')
  // upload a ZIP through the form, then run it from its card
  const zip = join(out.dir, 'diamond.zip')
  await writeFile(zip, await packBundle(resolve('test/fixtures/workflows/diamond-js')))
  await page.getByLabel('Workflow ZIP').setInputFiles(zip)
  await page.getByRole('button', { name: 'Upload' }).click()
  const diamond = page.locator('article[data-workflow="diamond"]')
  await diamond.waitFor({ timeout: 30_000 })
  await diamond.getByLabel('Input (JSON)').fill('{"number": 5}')
  await diamond.getByRole('button', { name: 'Run' }).click()
  await page.locator('[data-testid="run-state"][data-state="succeeded"]').waitFor({ timeout: 60_000 })
  assert.match(page.url(), /#\/runs\/r/)
  await page.goto(`${base}/ui/#/workflows`)
  await card.waitFor({ timeout: 30_000 })
  await shot('workflows')
  await noSeriousA11yProblems('workflows page')
  assert.deepEqual(await unreachableByKeyboard(page), [], 'workflows page')

  await page.goto(`${base}/ui/#/runs`)
  await page.locator(`tr[data-run="${summarizeRun}"]`).waitFor({ timeout: 30_000 })
  await shot('runs')
  await noSeriousA11yProblems('runs page')
  assert.deepEqual(await unreachableByKeyboard(page), [], 'runs page')
})

test('a capability is published through the form: the prefilled sample with an uploaded module, then its module reused at a new price; a bad descriptor shows its typed error', async () => {
  await page.goto(`${base}/ui/#/capabilities`)
  const form = page.locator('form.publish')
  await form.waitFor({ timeout: 30_000 })
  assert.match(await form.getByLabel('Descriptor (YAML or JSON)').inputValue(), /^name: Shout$/m, 'a sample descriptor is prefilled')
  const file = join(out.dir, 'function.mjs')
  await writeFile(file, 'export default class Shout {\n  eval (parameters, inputData) {\n    return { text: String(inputData.text).toUpperCase() }\n  }\n}\n')
  await form.getByLabel('Module file').setInputFiles(file)
  await form.getByLabel('Price', { exact: true }).fill('4')
  await form.getByRole('button', { name: 'Publish' }).click()
  await form.locator('[data-testid="published-cid"]').waitFor({ timeout: 30_000 })
  const cid = await form.locator('[data-testid="published-cid"]').textContent()
  const row = page.locator('table:has(caption:text("Published by this node")) tr[data-cap="Shout"]')
  await row.waitFor({ timeout: 30_000 })
  assert.match(await row.textContent() ?? '', /price 4/)
  const local = (await http(base, 'GET', '/capabilities', { key: admin })).body.local
  assert.deepEqual(local.filter((c: any) => c.descriptor.name === 'Shout').map((c: any) => c.cid), [cid])

  await form.getByLabel('Implementation', { exact: true }).selectOption('like')
  await form.getByLabel('Code of', { exact: true }).selectOption(String(cid))
  await form.getByLabel('Price', { exact: true }).fill('9')
  await form.getByRole('button', { name: 'Publish' }).click()
  await waitFor(async () => /price 9/.test(await row.textContent() ?? ''), 30_000, 'the re-published price is listed')
  const republished = (await http(base, 'GET', '/capabilities', { key: admin })).body.local.find((c: any) => c.descriptor.name === 'Shout')
  assert.equal(republished.descriptor.price, 9)
  assert.equal(await form.locator('[data-testid="published-cid"]').textContent(), republished.cid)
  // the replaced descriptor is gone from the choice: the new one is offered
  assert.equal(await form.getByLabel('Code of', { exact: true }).inputValue(), republished.cid)
  await shot('capabilities-publish')
  await noSeriousA11yProblems('capabilities page with the publish form')
  assert.deepEqual(await unreachableByKeyboard(page), [], 'capabilities page with the publish form')

  await form.getByLabel('Descriptor (YAML or JSON)').fill('name: [unclosed')
  await form.getByRole('button', { name: 'Publish' }).click()
  await form.getByRole('alert').waitFor({ timeout: 30_000 })
  assert.match(await form.getByRole('alert').textContent() ?? '', /^InvalidDescriptorError: /)
  assert.deepEqual((await http(base, 'DELETE', '/capabilities/Shout', { key: admin })).status, 200)
})

test('without a key the shell asks for one; a wrong key is refused and a right one signs in', async () => {
  // a new tab has its own sessionStorage: no key yet
  const p = await browser.context.newPage()
  try {
    await p.goto(`${base}/ui/`)
    await p.getByLabel('API key').fill('plk_0123456789abcdef_' + 'A'.repeat(32))
    await p.getByRole('button', { name: 'Sign in' }).click()
    await p.getByRole('alert').waitFor({ timeout: 30_000 })
    assert.match(await p.getByRole('alert').textContent() ?? '', /unknown or revoked/)
    await p.getByLabel('API key').fill(admin)
    await p.getByRole('button', { name: 'Sign in' }).click()
    await p.getByRole('navigation', { name: 'Pages' }).waitFor({ timeout: 30_000 })
  } finally {
    await p.close()
  }
})

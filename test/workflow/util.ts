/**
 * Shared bits of the workflow tests: fixture paths, copying a fixture into a
 * temp folder, and an assertion that a call fails with a given error.
 */
import assert from 'node:assert/strict'
import { cp, mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { packageRoot } from '../../src/core/paths.js'
import { tempDir } from '../helpers/tmp.js'

/** The reference fixtures copied into the repo (`test/fixtures`; PL_FIXTURES overrides). */
export const FIXTURES = process.env.PL_FIXTURES ?? resolve(packageRoot(), 'test', 'fixtures')
export const GOLDEN = join(packageRoot(), 'test', 'golden', 'workflow')

export function fixture (...parts: string[]): string {
  return join(FIXTURES, ...parts)
}

/** Asserts that `fn` rejects/throws an error named `name` whose message matches `message`. */
export async function assertFails (fn: () => unknown, name: string, message: RegExp): Promise<Error> {
  let caught: unknown
  try {
    await fn()
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof Error, `expected ${name}, but nothing was thrown`)
  assert.equal(caught.name, name, `expected ${name}, got ${caught.name}: ${caught.message}`)
  assert.match(caught.message, message)
  return caught
}

/** A temp folder holding a copy of a fixture workflow (so a test may change it). */
export async function copyFixture (name: string): Promise<{ dir: string, cleanup: () => Promise<void> }> {
  const t = await tempDir('pl-wf-')
  const dir = join(t.dir, name)
  await cp(fixture('workflows', name), dir, { recursive: true })
  return { dir, cleanup: t.cleanup }
}

/** Writes a workflow folder from a workflow.json document and module files. */
export async function writeWorkflow (dir: string, doc: unknown, files: Record<string, string> = {}): Promise<void> {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'workflow.json'), JSON.stringify(doc, null, 2))
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(join(dir, rel, '..'), { recursive: true })
    await writeFile(join(dir, rel), text)
  }
}

/** A minimal workflow.json with one JS module per key and the given graph. */
export function simpleDoc (graph: Record<string, string[]>, extra: Record<string, Record<string, unknown>> = {}): Record<string, unknown> {
  const keys = new Set([...Object.keys(graph), ...Object.values(graph).flat()])
  return {
    workflow_id: 't',
    name: 't',
    modules: Object.fromEntries([...keys].map(k => [k, { codePath: `module_${k}`, settings: {}, parameters: {}, name: k, ...(extra[k] ?? {}) }])),
    graph
  }
}

export const JS_MODULE = 'export default class M { eval () { return {} } }\n'

/** Module files for every key of `simpleDoc(graph)`. */
export function moduleFiles (keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.map(k => [`module_${k}/function.mjs`, JS_MODULE]))
}

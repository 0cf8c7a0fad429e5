import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Store } from '../../src/store/index.js'

/** A fresh temp folder; `cleanup()` removes it. */
export async function tempDir (prefix = 'pl-test-'): Promise<{ dir: string, cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  return { dir, cleanup: async () => { await rm(dir, { recursive: true, force: true }) } }
}

/** Runs `fn` on a real Store in a fresh temp folder; closes the store and removes the folder after, even when `fn` throws. */
export async function withStore<T> (fn: (store: Store, dir: string) => Promise<T>): Promise<T> {
  const { dir, cleanup } = await tempDir()
  const store = await Store.open(dir)
  try {
    return await fn(store, dir)
  } finally {
    await store.close()
    await cleanup()
  }
}

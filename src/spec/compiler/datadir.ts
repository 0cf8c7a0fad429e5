/**
 * CID refs from a node's data dir: through the running daemon's control API
 * when one holds the dir (its database is locked), else by opening the store
 * directly. Mesh-wide lookup (`/pl/fetch` from other peers) is not exposed on
 * the control API, so refs resolve from this node's store only.
 *
 * @example
 * const src = await dataDirSources('/var/lib/pl')
 * try { await loadBundle(['spec.json'], src.options) } finally { await src.close() }
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ControlClient } from '../../api/client.js'
import { CONTROL_FILE } from '../../api/control-file.js'
import { Store } from '../../store/index.js'
import type { LoadOptions } from './compile.js'
import { ControlSource } from './sources.js'
import { SpecFileError } from './errors.js'

/** Whether `dir` holds a running node (its control file) or a node's store. */
export function isDataDir (dir: string): boolean {
  return existsSync(join(dir, CONTROL_FILE)) || existsSync(join(dir, 'db'))
}

/** Throws SpecFileError when `dataDir` holds neither a running node nor a store (nothing is created). */
export async function dataDirSources (dataDir: string): Promise<{ options: LoadOptions, close: () => Promise<void> }> {
  if (!isDataDir(dataDir)) throw new SpecFileError(`${dataDir} is not a pl-node data dir (no running node, no store)`, { dataDir })
  if (existsSync(join(dataDir, CONTROL_FILE))) {
    const client = await ControlClient.fromDataDir(dataDir)
    return { options: { sources: [new ControlSource(client)] }, close: async () => {} }
  }
  const store = await Store.open(dataDir)
  return { options: { blocks: store.blocks }, close: async () => { await store.close() } }
}

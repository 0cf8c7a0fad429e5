/**
 * Storage: one LevelDB per data dir, one sublevel per keyspace, a stored
 * schema version checked at open. `LEVEL_LOCKED` becomes DataDirLockedError
 * ("another pl-node is using this data dir").
 *
 * @example
 * const store = await Store.open('/var/lib/pl')
 * const cid = await store.blocks.put({ hello: 'world' })
 * await store.close()
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { DataDirLockedError, StoreVersionError, StoreClosedError } from './errors.js'
import { BlockStore } from './blocks.js'
import { GroupCommit, type BatchOp } from './group-commit.js'

/** Bump when a keyspace's layout changes; a newer store refuses to open with older code. */
export const STORE_VERSION = 1

/**
 * LevelDB's block cache (uncompressed blocks recently read), held for the
 * process's life once filled. LevelDB's default is 8 MiB; a node's reads
 * are mostly of recent writes (still in the 4 MiB write buffer) and the OS
 * page cache holds the table files anyway, so 2 MiB: up to 6 MiB less RSS
 * on a node that has read more than that, for ~10 % more CPU per `get`
 * when the blocks read over and over are between 2 and 8 MiB
 * (docs/PERFORMANCE.md "Idle memory, third pass"). @default 2 MiB
 */
export const BLOCK_CACHE_BYTES = 2 * 1024 * 1024

export type JsonSublevel<V = any> = ReturnType<Level<string, any>['sublevel']> & { _v?: V }
export type BinarySublevel = ReturnType<Level<string, any>['sublevel']>

export class Store {
  readonly path: string
  readonly db: Level<string, any>
  readonly blocks: BlockStore
  /** group commit of concurrent writes (see `write`) */
  readonly commits: GroupCommit
  private closed = false

  private constructor (path: string, db: Level<string, any>) {
    this.path = path
    this.db = db
    this.commits = new GroupCommit(db)
    this.blocks = new BlockStore(this.binary('blocks'), this.commits)
  }

  /**
   * Writes `ops` (sublevel ops allowed) atomically; concurrent calls share
   * one LevelDB batch (group commit). Resolves once its batch is written.
   */
  write (ops: BatchOp[]): Promise<void> {
    try {
      this.assertOpen()
    } catch (err) {
      return Promise.reject(err)
    }
    return this.commits.write(ops)
  }

  static async open (dataDir: string): Promise<Store> {
    await mkdir(dataDir, { recursive: true })
    const path = join(dataDir, 'db')
    const db = new Level<string, any>(path, { valueEncoding: 'json', cacheSize: BLOCK_CACHE_BYTES })
    try {
      await db.open()
    } catch (err: any) {
      const cause = err.cause ?? err
      if (cause?.code === 'LEVEL_LOCKED' || /lock/i.test(String(cause?.message))) {
        throw new DataDirLockedError(`another pl-node is using the data dir ${dataDir} (its database is locked); stop it or pass another --data-dir`, { dataDir })
      }
      throw err
    }
    const store = new Store(dataDir, db)
    try {
      await store.checkVersion()
    } catch (err) {
      await db.close()
      throw err
    }
    return store
  }

  private async checkVersion (): Promise<void> {
    const meta = this.json<number>('meta')
    const version = await meta.get('version')
    if (version == null) {
      await meta.put('version', STORE_VERSION)
      return
    }
    if (version !== STORE_VERSION) {
      throw new StoreVersionError(`data dir ${this.path} has store version ${String(version)}, this pl-node reads version ${STORE_VERSION}`, { found: version, expected: STORE_VERSION })
    }
  }

  /** A keyspace whose values are JSON. */
  json<V = any> (name: string): JsonSublevel<V> {
    this.assertOpen()
    return this.db.sublevel<string, V>(name, { valueEncoding: 'json' }) as unknown as JsonSublevel<V>
  }

  /** A keyspace whose values are raw bytes. */
  binary (name: string): BinarySublevel {
    this.assertOpen()
    return this.db.sublevel<string, Uint8Array>(name, { valueEncoding: 'view' }) as unknown as BinarySublevel
  }

  private assertOpen (): void {
    if (this.closed) throw new StoreClosedError('the store is closed')
  }

  get isOpen (): boolean {
    return !this.closed && this.db.status === 'open'
  }

  /** background reads (e.g. the replay store's horizon) that must end before the database closes */
  private readonly reads = new Set<Promise<unknown>>()

  /** Lets `close()` wait for a read started in the background (a close under an open iterator can hang LevelDB's close). */
  track<T> (read: Promise<T>): Promise<T> {
    this.reads.add(read)
    const done = (): void => { this.reads.delete(read) }
    read.then(done, done)
    return read
  }

  /** work to do before the database closes, while it still takes writes (the replay store's lease) */
  private readonly closeHooks: Array<() => Promise<void>> = []

  /** Runs `fn` at `close()`, before the database stops taking writes; a failure is ignored (the close goes on). */
  beforeClose (fn: () => Promise<void>): void {
    this.closeHooks.push(fn)
  }

  /** the close under way, so that a second `close()` waits for the first instead of closing under its hooks */
  private closeDone?: Promise<void>

  async close (): Promise<void> {
    this.closeDone ??= this.closeOnce()
    await this.closeDone
  }

  private async closeOnce (): Promise<void> {
    for (const fn of this.closeHooks.splice(0)) await fn().catch(() => {})
    this.closed = true
    await Promise.allSettled([...this.reads])
    await this.commits.drain() // writes already submitted land before the database closes
    await this.db.close()
  }
}

export { BlockStore } from './blocks.js'
export { ReplayStore } from './replay.js'
export { GroupCommit, MAX_GROUP_OPS, type BatchOp } from './group-commit.js'
export * from './errors.js'

/**
 * Bounded parallelism without a queue library: `fn` over `items` with at
 * most `limit` calls in flight, results in the items' order. The first
 * rejection rejects the whole (calls already started run on).
 *
 * @example
 * const answers = await mapBounded(candidates, 16, async c => await ask(c))
 */
export async function mapBounded<T, R> (items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i])
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
  return out
}


/**
 * One run per key at a time: waits for the run of `key` in flight in
 * `running` (whatever its outcome), then runs `task` as the key's run. A
 * second caller waits for the first and then runs again, so its answer is
 * never older than its call.
 *
 * @example
 * return await exclusivePerKey(this.syncing, peer, async () => await this.syncOnce(peer))
 */
export async function exclusivePerKey<T> (running: Map<string, Promise<T>>, key: string, task: () => Promise<T>): Promise<T> {
  for (let r = running.get(key); r != null; r = running.get(key)) await r.catch(() => {})
  const run = task()
  running.set(key, run)
  try {
    return await run
  } finally {
    running.delete(key)
  }
}

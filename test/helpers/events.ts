/**
 * Waiting on events instead of polling with sleeps: `until` checks `cond` now
 * and again on every listed event, and resolves when it holds. It has no
 * deadline of its own; give the test a `timeout` (node:test) as a hang guard.
 *
 * @example
 * await until(() => node.libp2p.getPeers().length >= 2, [[node.libp2p, ['peer:connect', 'peer:identify']]])
 */
/** An EventTarget or a typed emitter (libp2p, kad-dht routing table, gossipsub); event names are checked by the caller. */
export interface Listenable {
  addEventListener: (type: any, listener: any) => void
  removeEventListener: (type: any, listener: any) => void
}

export async function until (cond: () => boolean, sources: Array<[Listenable, string[]]>, signal?: AbortSignal): Promise<void> {
  if (cond()) return
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (!cond()) return
      done()
      resolve()
    }
    const onAbort = (): void => { done(); reject(signal?.reason) }
    const done = (): void => {
      for (const [target, types] of sources) for (const t of types) target.removeEventListener(t, check)
      signal?.removeEventListener('abort', onAbort)
    }
    for (const [target, types] of sources) for (const t of types) target.addEventListener(t, check)
    signal?.addEventListener('abort', onAbort, { once: true })
    check()
  })
}


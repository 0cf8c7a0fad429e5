/** A counting semaphore whose waiters can give up through an AbortSignal. */
interface Waiter { grant: () => void, reject: (reason: unknown) => void, signal?: AbortSignal }

export class Semaphore {
  private active = 0
  private readonly queue = new Set<Waiter>()
  /**
   * The waiters of each signal, with the one abort listener the signal has for all of them: a run's
   * queued steps share its signal, and an EventTarget scans its listeners on every add and remove
   * (hundreds of queued steps made that quadratic).
   */
  private readonly bySignal = new Map<AbortSignal, { waiters: Set<Waiter>, onAbort: () => void }>()

  constructor (private readonly max: number) {
    if (!(max >= 1)) throw new TypeError(`semaphore size must be >= 1, got ${max}`)
  }

  get running (): number {
    return this.active
  }

  get waiting (): number {
    return this.queue.size
  }

  async acquire (signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted()
    if (this.active < this.max) {
      this.active++
      return this.releaser()
    }
    return await new Promise((resolve, reject) => {
      const entry: Waiter = {
        grant: () => {
          this.forget(entry)
          this.active++
          resolve(this.releaser())
        },
        reject,
        signal
      }
      if (signal != null) this.watch(signal).add(entry)
      this.queue.add(entry)
    })
  }

  async run<T> (fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal)
    try {
      return await fn()
    } finally {
      release()
    }
  }

  /** The waiters of `signal`, listening for its abort (once per signal). */
  private watch (signal: AbortSignal): Set<Waiter> {
    let w = this.bySignal.get(signal)
    if (w == null) {
      const waiters = new Set<Waiter>()
      const onAbort = (): void => {
        this.bySignal.delete(signal)
        for (const e of waiters) {
          this.queue.delete(e)
          e.reject(signal.reason)
        }
      }
      w = { waiters, onAbort }
      this.bySignal.set(signal, w)
      signal.addEventListener('abort', onAbort, { once: true })
    }
    return w.waiters
  }

  /** Takes a granted waiter off its signal's list (and the listener off the signal once none is left). */
  private forget (entry: Waiter): void {
    if (entry.signal == null) return
    const w = this.bySignal.get(entry.signal)
    if (w == null) return
    w.waiters.delete(entry)
    if (w.waiters.size === 0) {
      this.bySignal.delete(entry.signal)
      entry.signal.removeEventListener('abort', w.onAbort)
    }
  }

  private releaser (): () => void {
    let done = false
    return () => {
      if (done) return
      done = true
      this.active--
      const next = this.queue.values().next()
      if (next.done !== true) {
        this.queue.delete(next.value)
        next.value.grant()
      }
    }
  }
}

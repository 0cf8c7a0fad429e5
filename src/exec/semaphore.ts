/** A counting semaphore whose waiters can give up through an AbortSignal. */
export class Semaphore {
  private active = 0
  private readonly queue: Array<{ grant: () => void }> = []

  constructor (private readonly max: number) {
    if (!(max >= 1)) throw new TypeError(`semaphore size must be >= 1, got ${max}`)
  }

  get running (): number {
    return this.active
  }

  get waiting (): number {
    return this.queue.length
  }

  async acquire (signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted()
    if (this.active < this.max) {
      this.active++
      return this.releaser()
    }
    return await new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort)
          this.active++
          resolve(this.releaser())
        }
      }
      const onAbort = (): void => {
        const i = this.queue.indexOf(entry)
        if (i >= 0) this.queue.splice(i, 1)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.queue.push(entry)
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

  private releaser (): () => void {
    let done = false
    return () => {
      if (done) return
      done = true
      this.active--
      this.queue.shift()?.grant()
    }
  }
}

/**
 * Node 20 lacks `Promise.withResolvers`, which libp2p 3 calls during every
 * Noise handshake. Without it inbound upgrades fail with
 * `EncryptionFailedError` and dialers see ECONNRESET. Every entry point
 * imports this module before anything else.
 */
interface WithResolvers<T> {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

const P = Promise as unknown as { withResolvers?: <T>() => WithResolvers<T> }

if (typeof P.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T> (): WithResolvers<T> {
      let resolve!: WithResolvers<T>['resolve']
      let reject!: WithResolvers<T>['reject']
      const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}

export {}

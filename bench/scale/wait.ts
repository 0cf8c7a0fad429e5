/**
 * Polling for the scale bench, which watches many processes' catalogs and has
 * no event to wait on: `pollUntil` checks `cond` every `pollMs` until it holds
 * (true) or `timeoutMs` passes (false: a catalog that stays short is a figure
 * of the size, not a failure). An abort of `signal` throws.
 */
import { setTimeout as sleep } from 'node:timers/promises'

export { sleep }

export async function pollUntil (cond: () => boolean | Promise<boolean>, timeoutMs: number, pollMs: number, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!await cond()) {
    if (Date.now() > deadline) return false
    await sleep(pollMs, undefined, { signal })
  }
  return true
}

/** pollUntil, throwing when `cond` does not hold in time (what the run cannot do without). */
export async function waitUntil (cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, pollMs: number, signal: AbortSignal): Promise<void> {
  if (!await pollUntil(cond, timeoutMs, pollMs, signal)) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

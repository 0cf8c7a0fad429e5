import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { errorToData } from '../core/errors.js'

/** `--data-dir` > PL_DATA_DIR > ~/.pl-node */
export function resolveDataDir (flag?: string): string {
  return resolve(flag ?? process.env.PL_DATA_DIR ?? join(homedir(), '.pl-node'))
}

/** Prints a typed error as one clear line (stack only with PL_DEBUG=1) and exits 1. */
export function fail (err: unknown, code = 1): never {
  const data = errorToData(err)
  process.stderr.write(`error: ${data.name}: ${data.message}\n`)
  if (process.env.PL_DEBUG === '1' && data.stack != null) process.stderr.write(data.stack + '\n')
  process.exit(code)
}

/** Wraps a commander action so that thrown errors become `fail()`. */
export function action<A extends unknown[]> (fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args)
    } catch (err) {
      fail(err)
    }
  }
}

export function printJson (value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

/**
 * Resident set size of a process, read from `/proc/<pid>/status` (Linux).
 *
 * @example
 * const kib = await rssKiB(child.pid!) // e.g. 121344, or undefined if gone
 */
import { readFile } from 'node:fs/promises'

/** Parses the `VmRSS:` line of a /proc status file; undefined when absent (e.g. a zombie). */
export function parseVmRss (status: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)
  return m == null ? undefined : Number(m[1])
}

/** RSS in KiB, or undefined when the process is gone or has no RSS line. */
export async function rssKiB (pid: number): Promise<number | undefined> {
  try {
    return parseVmRss(await readFile(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return undefined
  }
}

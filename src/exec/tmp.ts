/**
 * Per-step temp folders (`context.tmpdir`): `<root>/<node pid>/<runner>/<step>`.
 * A step gets a fresh folder, removed when it ends; a runner's folder goes
 * with the runner (a sandboxed runner may write there and nowhere else).
 * Steps get theirs lazily: the pool names a fresh path and the runner
 * makes the folder when the module first reads `context.tmpdir`
 * (src/exec/js/worker.ts, src/exec/python/runner.py), so a step that never uses it costs no file system call.
 * Folders of a node process that no longer exists (a crash, a SIGKILL) are
 * swept when a module pool starts.
 */
import { mkdirSync } from 'node:fs'
import { readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { processAlive } from '../core/process.js'

/** Where step folders live unless `ModulePoolInit.tmpRoot` says otherwise. */
export const DEFAULT_TMP_ROOT = join(tmpdir(), 'pl-steps')

let seq = 0

/** A new folder for one runner (or one JS thread pool) of this node process, created now. */
export function newRunnerDir (root: string, prefix: string): string {
  const dir = join(root, String(process.pid), `${prefix}${++seq}`)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  return dir
}

/** The path of a fresh folder for one step inside its runner's folder, not made yet: the runner makes it on first use. */
export function stepDirPath (runnerDir: string): string {
  return join(runnerDir, `step-${++seq}`)
}

export async function removeDir (dir: string | undefined): Promise<void> {
  if (dir == null) return
  await rm(dir, { recursive: true, force: true }).catch(() => {})
}

/** Removes the folders of node processes that are gone; returns the pids swept. */
export async function sweepStepDirs (root: string): Promise<number[]> {
  let names: string[]
  try {
    names = await readdir(root)
  } catch {
    return []
  }
  const gone = names.filter(n => /^\d+$/.test(n)).map(Number).filter(pid => pid !== process.pid && !processAlive(pid))
  await Promise.all(gone.map(async pid => { await removeDir(join(root, String(pid))) }))
  return gone
}

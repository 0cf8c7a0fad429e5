/**
 * The processes a JS step started. JS modules run in worker threads of the
 * node process itself, so a child a module spawns is a child of the node —
 * but of one thread: Linux lists each thread's own children in
 * `/proc/self/task/<tid>/children`. When a step ends (returns, fails, or is
 * killed at a limit) the pool kills that thread's process tree.
 */
import { readFileSync, readdirSync } from 'node:fs'

/** Walks of the tree before killing it (each finds the processes forked during the one before). */
const MAX_WALKS = 5

function childrenIn (file: string): number[] {
  try {
    return readFileSync(file, 'utf8').split(' ').map(Number).filter(n => n > 0)
  } catch {
    return [] // gone, or a kernel without CONFIG_PROC_CHILDREN
  }
}

/** Direct children of every thread of `pid`. */
function childrenOf (pid: number): number[] {
  let tids: string[]
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return []
  }
  return tids.flatMap(tid => childrenIn(`/proc/${pid}/task/${tid}/children`))
}

function signal (pid: number, sig: NodeJS.Signals): void {
  try { process.kill(pid, sig) } catch {} // ESRCH: already gone
}

/**
 * SIGKILLs every process thread `tid` of this process started, and their
 * descendants. The tree is frozen first (SIGSTOP, walking again until no new
 * process appears) so that no member forks, and none is reparented away
 * from the walk by a parent dying early. Returns the pids killed.
 * A process that double-forked away before the walk (a daemon) is not found.
 */
export function killThreadTree (tid: number): number[] {
  if (process.platform !== 'linux') return []
  const seen = new Set<number>()
  // SIGSTOP lands asynchronously: a process may fork once more after its children were read, so walk until nothing new appears
  for (let round = 0; round < MAX_WALKS; round++) {
    let added = false
    let frontier = childrenIn(`/proc/self/task/${tid}/children`)
    const walked = new Set<number>()
    while (frontier.length > 0) {
      const next: number[] = []
      for (const pid of frontier) {
        if (walked.has(pid)) continue
        walked.add(pid)
        if (!seen.has(pid)) { seen.add(pid); added = true; signal(pid, 'SIGSTOP') }
        next.push(...childrenOf(pid))
      }
      frontier = next
    }
    if (!added) break
  }
  for (const pid of seen) signal(pid, 'SIGKILL')
  return [...seen]
}

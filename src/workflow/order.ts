/**
 * Kahn's topological sort with a stable tie-break: among the ready nodes the
 * one declared first goes first, so compiled steps read in source order.
 */

/** `deps(n)` lists the nodes `n` waits for. Nodes left on a cycle are not returned. */
export function stableTopoSort (nodes: string[], deps: (n: string) => string[]): string[] {
  const rank = new Map(nodes.map((n, i) => [n, i]))
  const waiting = new Map<string, number>()
  const dependents = new Map<string, string[]>()
  for (const n of nodes) {
    const ds = [...new Set(deps(n))].filter(d => rank.has(d))
    waiting.set(n, ds.length)
    for (const d of ds) {
      const list = dependents.get(d)
      if (list == null) dependents.set(d, [n]); else list.push(n)
    }
  }
  const heap: number[] = []
  const push = (r: number): void => {
    heap.push(r)
    for (let i = heap.length - 1; i > 0;) {
      const p = (i - 1) >> 1
      if (heap[p] <= heap[i]) break;
      [heap[p], heap[i]] = [heap[i], heap[p]]
      i = p
    }
  }
  const pop = (): number => {
    const top = heap[0]
    const last = heap.pop()!
    if (heap.length > 0) {
      heap[0] = last
      for (let i = 0; ;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < heap.length && heap[l] < heap[m]) m = l
        if (r < heap.length && heap[r] < heap[m]) m = r
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i], heap[m]]
        i = m
      }
    }
    return top
  }
  for (const n of nodes) if (waiting.get(n) === 0) push(rank.get(n)!)
  const out: string[] = []
  while (heap.length > 0) {
    const n = nodes[pop()]
    out.push(n)
    for (const d of dependents.get(n) ?? []) {
      const left = waiting.get(d)! - 1
      waiting.set(d, left)
      if (left === 0) push(rank.get(d)!)
    }
  }
  return out
}

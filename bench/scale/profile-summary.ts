/**
 * A V8 CPU profile (`Profiler.stop`'s `.cpuprofile`) summarised as text:
 * self time per package (a node_modules package, a src/<area>, node's
 * internals, GC, idle) and the top functions by self and by inclusive time.
 * Used by bench/scale/idle-profile.ts; pure, tested in
 * test/bench/profile-summary.test.ts.
 */

export interface CpuProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}

export interface CpuProfile {
  nodes: CpuProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** The package a script URL belongs to: `@scope/name` or `name` under node_modules, `src/<area>` of this repo, `node:` internals, or the special frames. */
export function packageOf (url: string, functionName = ''): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)'
  const nm = url.lastIndexOf('/node_modules/')
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/')
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]
  }
  const src = /\/dist\/(src|bench)\/([^/]+)/.exec(url)
  if (src != null) return src[2].endsWith('.js') ? `${src[1]}/${src[2]}` : `${src[1]}/${src[2]}/`
  if (url.startsWith('node:')) return 'node:internal'
  return url
}

export interface ProfileTotals {
  totalMs: number
  byPackage: Map<string, number>
  self: Map<string, number>
  inclusive: Map<string, number>
}

function frameKey (n: CpuProfileNode): string {
  const f = n.callFrame
  return `${f.functionName === '' ? '(anonymous)' : f.functionName} ${packageOf(f.url, f.functionName)}:${f.lineNumber + 1}`
}

/** Self ms per profile node, package and function, and inclusive ms per function (a recursive function counted once per stack). */
export function profileTotals (profile: CpuProfile): ProfileTotals {
  const selfByNode = new Map<number, number>()
  let totalMs = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const ms = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000
    selfByNode.set(profile.samples[i], (selfByNode.get(profile.samples[i]) ?? 0) + ms)
    totalMs += ms
  }
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const byPackage = new Map<string, number>()
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const add = (m: Map<string, number>, k: string, v: number): void => { m.set(k, (m.get(k) ?? 0) + v) }
  for (const [id, ms] of selfByNode) {
    const n = byId.get(id)
    if (n == null) continue
    add(byPackage, packageOf(n.callFrame.url, n.callFrame.functionName), ms)
    add(self, frameKey(n), ms)
    const seen = new Set<string>()
    for (let at: number | undefined = id; at != null; at = parent.get(at)) {
      const a = byId.get(at)
      if (a == null) break
      const k = frameKey(a)
      if (!seen.has(k)) { seen.add(k); add(inclusive, k, ms) }
    }
  }
  return { totalMs, byPackage, self, inclusive }
}

function top (m: Map<string, number>, k: number, totalMs: number): string[] {
  return [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, ms]) => `  ${(100 * ms / totalMs).toFixed(1).padStart(5)} %  ${ms.toFixed(0).padStart(7)} ms  ${name}`)
}

/** The text summary: packages, top `k` functions by self time, top `k` by inclusive time (shares of the whole profile, idle included). */
export function summariseProfile (profile: CpuProfile, k: number): string {
  const t = profileTotals(profile)
  return [
    `profile: ${t.totalMs.toFixed(0)} ms sampled`,
    'self time by package:', ...top(t.byPackage, k, t.totalMs),
    'self time by function:', ...top(t.self, k, t.totalMs),
    'inclusive time by function:', ...top(t.inclusive, k, t.totalMs)
  ].join('\n')
}

import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let cached: string | undefined

/**
 * The folder holding pl-node's package.json. Compiled code lives at different
 * depths (dist/, build/<name>/), so non-TS assets (schemas, the Python runner)
 * are located from here rather than from `import.meta.url`.
 */
export function packageRoot (): string {
  if (cached != null) return cached
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'pl-node') {
          cached = dir
          return dir
        }
      } catch {}
    }
    const up = dirname(dir)
    if (up === dir) throw new Error('cannot find the pl-node package root')
    dir = up
  }
}

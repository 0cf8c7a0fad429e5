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

// scripts/build-bundle.mjs defines PL_BUNDLED (true) in the bundle; in the tsc output it is no global at all
declare const PL_BUNDLED: boolean | undefined

/** Whether this code runs from the esbuild bundle (dist/bundle/) rather than the tsc output (dist/src/). */
export const BUNDLED = typeof PL_BUNDLED !== 'undefined' && PL_BUNDLED

/**
 * The tsc output's src/ folder, ending in `/`. Worker scripts, the sandboxed
 * runner and the precompiled validators are always loaded from there, also
 * by the bundle (dist/bundle/, whose files — this module's among them — sit
 * next to dist/src/).
 */
export const COMPILED_SRC: URL = BUNDLED ? new URL('../src/', import.meta.url) : new URL('../', import.meta.url)

/** A file of the tsc output by its path below src/, e.g. `compiledUrl('exec/js/worker.js')`. */
export function compiledUrl (rel: string): URL {
  return new URL(rel, COMPILED_SRC)
}

/** The bundled daemon's entry, made by `npm run build` (scripts/build-bundle.mjs), next to dist/src/. */
export const PL_NODE_BUNDLE = fileURLToPath(new URL('../bundle/pl-node.mjs', COMPILED_SRC))

/**
 * The `pl-node` file to run in a child process: the bundle when the build
 * made it, else the tsc output's entry (same code, slower start: ~1 800
 * modules to load) with a warning, once.
 */
export function plNodeEntry (): string {
  if (existsSync(PL_NODE_BUNDLE)) return PL_NODE_BUNDLE
  if (!warned) {
    warned = true
    process.emitWarning(`${PL_NODE_BUNDLE} is missing (tsc only?): starting pl-node from the unbundled tsc output, which starts slower; run npm run build`)
  }
  return fileURLToPath(compiledUrl('cli/pl-node.js'))
}
let warned = false

/** The package version, for `--version` (read from package.json next to dist/). */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

function readVersion (): string {
  // src/cli (ts) or dist/src/cli (js): the package.json is two or three levels up
  const here = dirname(fileURLToPath(import.meta.url))
  for (const up of ['../..', '../../..']) {
    try {
      const pkg = JSON.parse(readFileSync(join(here, up, 'package.json'), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'pl-node' && typeof pkg.version === 'string') return pkg.version
    } catch {}
  }
  return 'unknown'
}

export const VERSION = readVersion()

#!/usr/bin/env node
// Build step (after tsc): bundles the daemon, `pl-node`, from the tsc output
// (dist/src/cli/pl-node.js) into dist/bundle/ with esbuild, so a starting
// node loads a few files instead of ~1 800 modules (docs/PERFORMANCE.md
// "Cold start"). The lazily imported parts (`await import()`) become chunks
// next to it. Not bundled, and still needed next to the bundle:
//   - dist/src: the piscina worker, the sandboxed runner and the precompiled
//     validators are loaded from there (src/core/paths.ts `compiledUrl`);
//   - node_modules: the packages in EXTERNAL, which load native code or files
//     next to themselves at run time (worker scripts, package.json).
// `node scripts/build-bundle.mjs [--if-stale]` (PL_TEST_OUTDIR / the outDir
// argument of buildBundle: another tsc output folder than dist).
import { mkdir, rm, writeFile, chmod } from 'node:fs/promises'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

/** Packages left to node_modules: each loads a native addon or a file of its own folder by path at run time. */
export const EXTERNAL = [
  'classic-level', 'level', // the LevelDB addon (node-gyp-build finds its prebuilds from __dirname)
  'piscina', // its worker script, by __dirname
  'pino', 'pino-pretty', 'thread-stream', // transports run a worker script by __dirname
  '@fastify/swagger' // reads its own package.json by __dirname
]

// An ESM `import … from 'node:http'` makes Node read every export of the module, and three of them
// (WebSocket, CloseEvent, MessageEvent) are getters that load Node's built-in undici (~0.9 MB of
// source, compiled at start, never used by a node). Required as CommonJS, the exports are read
// only when used.
const httpAsCommonJs = {
  name: 'http-as-commonjs',
  setup (b) {
    b.onResolve({ filter: /^(node:)?https?$/ }, a => a.namespace === 'builtin-cjs' ? undefined : { path: a.path, namespace: 'builtin-cjs' })
    b.onLoad({ filter: /.*/, namespace: 'builtin-cjs' }, a => ({ contents: `module.exports = require(${JSON.stringify(a.path)})`, loader: 'js' }))
  }
}

/** The file users run (package.json `bin`), and the bundle it loads. */
export const ENTRY = 'pl-node.mjs'
export const MAIN = 'pl-node-main.mjs'

// The entry turns Node's compile cache on before it loads the bundle, so the bundle's own code
// is cached too (src/cli/require-node.ts does it for the tsc output, after its first module).
const LAUNCHER = `#!/usr/bin/env node
// pl-node, bundled by scripts/build-bundle.mjs (npm run build). The unbundled form is dist/src/cli/pl-node.js.
import * as nodeModule from 'node:module'
if (Number(process.versions.node.split('.')[0]) >= 22) nodeModule.enableCompileCache?.()
await import('./${MAIN}')
`

function newestMtime (dir) {
  let newest = 0
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    const st = statSync(p)
    if (st.isDirectory()) newest = Math.max(newest, newestMtime(p))
    else if (name.endsWith('.js') || name.endsWith('.cjs')) newest = Math.max(newest, st.mtimeMs)
  }
  return newest
}

/** 'missing', 'stale' (the tsc output changed after the bundle was made) or 'fresh'. */
export function bundleState (outDir = 'dist') {
  let built
  try {
    built = statSync(join(outDir, 'bundle', MAIN)).mtimeMs
  } catch {
    return 'missing'
  }
  return newestMtime(join(outDir, 'src')) > built ? 'stale' : 'fresh'
}

/** Bundles `<outDir>/src/cli/pl-node.js` into `<outDir>/bundle/`. */
export async function buildBundle (outDir = 'dist') {
  const out = join(outDir, 'bundle')
  await rm(out, { recursive: true, force: true })
  await mkdir(out, { recursive: true })
  const { build } = await import('esbuild')
  const result = await build({
    entryPoints: { [MAIN.replace(/\.mjs$/, '')]: join(outDir, 'src', 'cli', 'pl-node.js') },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outdir: out,
    outExtension: { '.js': '.mjs' },
    // chunks stay next to the entry: code that locates dist/src does it from its own file (src/core/paths.ts)
    chunkNames: '[name]-[hash]',
    external: EXTERNAL,
    // src/core/paths.ts: the bundle finds dist/src from dist/bundle
    define: { PL_BUNDLED: 'true' },
    // CommonJS packages inside an ESM bundle: their require() of externals and built-ins
    banner: { js: "import { createRequire as __plCreateRequire } from 'node:module'; const require = __plCreateRequire(import.meta.url);" },
    // no comments and whitespace (several MB less source text to read and hold in memory); names kept, for stack traces and error names
    minifyWhitespace: true,
    minifySyntax: true,
    // licence comments (/*! … */) go to <chunk>.LEGAL.txt beside each chunk: one non-ASCII character in a chunk's
    // source makes V8 hold all of it as UTF-16, twice its size (a 1.5 MB chunk held 3 MB of heap for one name in a licence)
    legalComments: 'external',
    sourcemap: 'linked',
    plugins: [httpAsCommonJs],
    metafile: true,
    logLevel: 'warning'
  })
  await writeFile(join(out, ENTRY), LAUNCHER)
  await chmod(join(out, ENTRY), 0o755)
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0) - Object.entries(result.metafile.outputs).filter(([k]) => k.endsWith('.map')).reduce((n, [, o]) => n + o.bytes, 0)
  const files = Object.keys(result.metafile.outputs).filter(k => k.endsWith('.mjs')).length
  return { out, modules: Object.keys(result.metafile.inputs).length, files: files + 1, bytes }
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const outDir = process.env.PL_TEST_OUTDIR ?? 'dist'
  if (process.argv.includes('--if-stale') && bundleState(outDir) === 'fresh') process.exit(0)
  const r = await buildBundle(outDir)
  process.stdout.write(`bundle: ${r.modules} modules into ${r.files} files (${(r.bytes / 1e6).toFixed(1)} MB) in ${r.out}/, entry ${ENTRY}\n`)
}

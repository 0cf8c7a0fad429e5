/**
 * Refuses to run on a Node line older than 22 (libp2p 3 and fastify 5 need
 * it), with a message that says how to get one. Imported first by the
 * command entry points. Also turns on Node's compile cache.
 */
import * as nodeModule from 'node:module'

const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  process.stderr.write(`pl needs Node.js >= 22; this is ${process.version}.\n` +
    'Run it through the repo\'s wrapper (bash scripts/node.sh dist/src/cli/pl.js ...; it installs Node 24 into .node/ when needed),\n' +
    'or install Node 22 or newer.\n')
  process.exit(1)
}

// Node caches the compiled code of the modules loaded from here on (the node's, a command's)
// on disk (NODE_COMPILE_CACHE, default under the OS temp dir; NODE_DISABLE_COMPILE_CACHE=1
// turns it off): a later start skips most of the parsing. enableCompileCache is Node >= 22.1.
void (nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.()
export {}

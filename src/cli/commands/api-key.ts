/**
 * `pl api-key create|list|revoke`: API keys (and agent PeerIds) for the
 * agent gateway. Through the running pl-node's control API when one runs on
 * the data dir, else straight in its LevelDB (keys live in the store, so a
 * key made while the node is down works when it starts). The key is printed
 * once and stored only hashed.
 */
import type { Command } from 'commander'
import { action, printJson, resolveDataDir } from '../util.js'
import { ControlClient } from '../../api/client.js'
import type { KeyStore, KeyInfo } from '../../gateway/index.js'
import { SCOPES } from '../../gateway/constants.js'

/** Runs `viaApi` on the running node, or `direct` on the data dir's store when no node answers. */
async function withKeys<T> (dataDir: string, viaApi: (c: ControlClient) => Promise<T>, direct: (k: KeyStore) => Promise<T>): Promise<T> {
  let client: ControlClient | undefined
  try {
    client = await ControlClient.fromDataDir(dataDir)
  } catch (err) {
    if ((err as Error).name !== 'ControlApiUnavailableError') throw err
  }
  if (client != null) {
    try {
      return await viaApi(client)
    } catch (err) {
      // a stale control.json (the daemon died) falls through to the data dir
      if ((err as Error).name !== 'ControlApiUnavailableError') throw err
    }
  }
  // the store (LevelDB) loads only when no node answers: `pl --help` and calls through the node stay quick
  const [{ Store }, { KeyStore }] = await Promise.all([import('../../store/index.js'), import('../../gateway/index.js')])
  const store = await Store.open(dataDir)
  try {
    return await direct(new KeyStore(store))
  } finally {
    await store.close()
  }
}

function line (k: KeyInfo): string {
  return `${k.name}\t${k.kind}\t${k.scopes.join(',')}\t${new Date(k.created).toISOString()}${k.agent != null ? `\t${k.agent}` : ''}`
}

export function register (program: Command): void {
  const cmd = program.command('api-key').description('API keys and agent identities for the agent gateway (pl-node --api-listen); see docs/GATEWAY.md')

  cmd.command('create')
    .description(`Create an API key (printed once; stored hashed) or, with --agent, register an agent's ed25519 PeerId for signed requests. Scopes: ${SCOPES.join(', ')} (admin holds all).`)
    .requiredOption('--name <name>', 'a unique name for the key (who holds it)')
    .requiredOption('--scopes <list>', 'comma-separated scopes, e.g. read,submit')
    .option('--agent <peerId>', 'register this agent PeerId instead of creating a key')
    .option('-d, --data-dir <dir>', 'data directory (env PL_DATA_DIR)')
    .option('--json', 'print {name, scopes, key} as JSON')
    .action(action(async (opts: { name: string, scopes: string, agent?: string, dataDir?: string, json?: boolean }) => {
      const dataDir = resolveDataDir(opts.dataDir)
      const scopes = opts.scopes.split(',').map(s => s.trim()).filter(s => s !== '')
      const body = { name: opts.name, scopes, ...(opts.agent != null ? { agent: opts.agent } : {}) }
      const out = await withKeys<{ name: string, scopes: string[], key?: string, agent?: string }>(dataDir,
        async (c) => await c.request('POST', '/api-keys', body),
        async (k) => opts.agent != null ? await k.registerAgent({ name: opts.name, agent: opts.agent, scopes }) : await k.create({ name: opts.name, scopes }))
      if (opts.json === true) {
        printJson(out.key != null ? { name: out.name, scopes: out.scopes, key: out.key } : { name: out.name, scopes: out.scopes, agent: out.agent })
      } else if (out.key != null) {
        process.stdout.write(`${out.key}\n`)
        process.stderr.write(`API key "${out.name}" (${out.scopes.join(',')}) created; it is shown only this once. Send it as: Authorization: Bearer <key>\n`)
      } else {
        process.stdout.write(`agent ${out.agent ?? ''} registered as "${out.name}" (${out.scopes.join(',')})\n`)
      }
    }))

  cmd.command('list')
    .description('List keys and agents (names, scopes, creation time; never the keys)')
    .option('-d, --data-dir <dir>', 'data directory (env PL_DATA_DIR)')
    .option('--json', 'print JSON')
    .action(action(async (opts: { dataDir?: string, json?: boolean }) => {
      const list = await withKeys<KeyInfo[]>(resolveDataDir(opts.dataDir), async (c) => await c.request('GET', '/api-keys'), async (k) => await k.list())
      if (opts.json === true) printJson(list)
      else process.stdout.write(list.length === 0 ? 'no API keys (create one with: pl api-key create --name NAME --scopes read,submit)\n' : list.map(line).join('\n') + '\n')
    }))

  cmd.command('revoke <name>')
    .description('Revoke a key or agent by name (takes effect on the next request)')
    .option('-d, --data-dir <dir>', 'data directory (env PL_DATA_DIR)')
    .option('--json', 'print JSON')
    .action(action(async (name: string, opts: { dataDir?: string, json?: boolean }) => {
      const gone = await withKeys<KeyInfo>(resolveDataDir(opts.dataDir), async (c) => await c.request('DELETE', `/api-keys/${encodeURIComponent(name)}`), async (k) => await k.revoke(name))
      if (opts.json === true) printJson(gone)
      else process.stdout.write(`revoked ${gone.kind} "${gone.name}"\n`)
    }))
}

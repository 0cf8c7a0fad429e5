/**
 * `pl attest keygen|issue|add|list|revoke`, `pl trust add|list|remove|export`
 * and `pl policy create`: attestations, trusted issuers and policies
 * (src/trust, docs/TRUST.md). Commands that change a node's state go
 * through its control API when a pl-node runs on the data dir (a revocation
 * is then gossiped), else straight to the data dir.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import type * as TrustModule from '../../trust/index.js'
import type * as CoreModule from '../../core/index.js'
import type * as CryptoKeysModule from '@libp2p/crypto/keys'
import { action, printJson, resolveDataDir } from '../util.js'
import { connectDaemon } from '../daemon.js'
import { InputFileNotFoundError } from '../errors.js'
import type { Identity } from '../../core/index.js'
import type { Store } from '../../store/index.js'
import { parseDuration } from '../../workflow/duration.js'
import type { Attestation, ClaimValue, Revocation, TrustFile } from '../../trust/index.js'
import { TrustFileError, AttestationMalformedError } from '../../trust/errors.js'
import { TRUST_FILE } from '../../trust/constants.js'

/** What the actions use, loaded when one runs: registering the commands (`pl --help`) stays light. */
type Lib = typeof TrustModule & typeof CoreModule & typeof CryptoKeysModule
async function lib (): Promise<Lib> {
  const mods = await Promise.all([import('../../trust/index.js'), import('../../core/index.js'), import('@libp2p/crypto/keys')])
  return Object.assign({}, ...mods)
}

async function readText (path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err: any) {
    if (err.code === 'ENOENT') throw new InputFileNotFoundError(`${path}: no such file`, { path })
    throw err
  }
}

/** An issuer key file (the same format as a node's identity.key; `pl attest keygen` makes one). */
export async function loadKeyFile (path: string): Promise<Identity> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err: any) {
    throw new TrustFileError(`cannot read key file ${path}: ${err.code ?? err.message}`, { path })
  }
  const { identityFromPrivateKey, privateKeyFromProtobuf } = await lib()
  try {
    return identityFromPrivateKey(privateKeyFromProtobuf(bytes))
  } catch (err) {
    throw new TrustFileError(`key file ${path} is not an ed25519 private key: ${(err as Error).message}`, { path })
  }
}

/** `30d`, `12h`, `90m`, `45s`, an ISO-8601 duration (`P30D`) from now, or a date (`2027-01-01`). */
// the operator's wall time (the CLI has no node clock); tests pass `now`
export function parseWhen (text: string, now = Date.now()): number {
  const m = /^(\d+)\s*(s|m|h|d)$/.exec(text.trim())
  if (m != null) return now + Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd']
  if (/^P/i.test(text)) return now + parseDuration(text)
  if (/^\d{13}$/.test(text)) return Number(text)
  const t = Date.parse(text)
  if (Number.isNaN(t)) throw new AttestationMalformedError(`${text} is not a time (30d, 12h, P30D, 2027-01-01 or ms since epoch)`, { value: text })
  return t
}

/** `key=value` claims: numbers and true/false become numbers and booleans; `key` alone is true. */
export function parseClaims (list: string[]): Record<string, ClaimValue> {
  const out: Record<string, ClaimValue> = {}
  for (const c of list) {
    const eq = c.indexOf('=')
    const key = (eq < 0 ? c : c.slice(0, eq)).trim()
    const raw = eq < 0 ? 'true' : c.slice(eq + 1).trim()
    out[key] = raw === 'true' ? true : raw === 'false' ? false : /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw
  }
  return out
}

const collect = (v: string, prev: string[]): string[] => [...prev, v]

async function readJsonFile (path: string): Promise<unknown> {
  const text = await readText(path)
  try {
    return /\.ya?ml$/i.test(path) ? (await import('yaml')).parse(text) : JSON.parse(text)
  } catch (err) {
    throw new TrustFileError(`${path} is not ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${(err as Error).message}`, { path })
  }
}

/** Runs `online` against the node on `dataDir` when one runs, else `offline` on its store. */
async function withNode<T> (dataDir: string, online: (request: <R>(method: string, path: string, body?: unknown) => Promise<R>) => Promise<T>, offline: (store: Store) => Promise<T>): Promise<T> {
  const client = await connectDaemon(dataDir)
  if (client != null) {
    try {
      return await online(async (method, path, body) => await client.request(method, path, body))
    } catch (err) {
      if ((err as Error).name !== 'ControlApiUnavailableError') throw err
    }
  }
  const { Store } = await import('../../store/index.js')
  const store = await Store.open(dataDir)
  try {
    return await offline(store)
  } finally {
    await store.close()
  }
}

function registerAttest (program: Command): void {
  const cmd = program.command('attest').description('Attestations: an issuer\'s signed claims about a provider (issue, add to a node, list, revoke)')
  cmd.command('keygen <file>')
    .description('write a new ed25519 issuer key (mode 0600) and print its PeerId')
    .action(action(async (file: string) => {
      if (existsSync(file)) throw new TrustFileError(`${file} exists; not overwriting a key`, { path: file })
      const { generateKeyPair, privateKeyToProtobuf, identityFromPrivateKey } = await lib()
      const key = await generateKeyPair('Ed25519')
      await writeFile(file, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
      process.stdout.write(identityFromPrivateKey(key).id + '\n')
    }))
  cmd.command('issue')
    .description('sign an Attestation.v1 about --subject with the issuer key; prints it as JSON (its CID on stderr)')
    .requiredOption('--key <file>', 'issuer key file (pl attest keygen, or a node\'s identity.key)')
    .requiredOption('--subject <peerId>', 'the provider the claims are about')
    .option('--claim <key=value>', 'a claim (repeatable), e.g. audit=pii-no-exfil, region=eu-west, policy=<CID> with satisfied=true', collect, [])
    .option('--capability <cid>', 'only for this capability descriptor CID')
    .option('--module <cid>', 'only for this module CID')
    .option('--nbf <when>', 'valid from (default now)')
    .option('--exp <when>', 'valid until: 30d, 12h, P90D or a date', '90d')
    .option('-o, --output <file>', 'write the attestation to this file')
    .action(action(async (opts: { key: string, subject: string, claim: string[], capability?: string, module?: string, nbf?: string, exp: string, output?: string }) => {
      const { issueAttestation, attestationCid } = await lib()
      const issuer = await loadKeyFile(opts.key)
      if (opts.claim.length === 0) throw new AttestationMalformedError('give at least one --claim key=value', {})
      const att = issueAttestation(issuer, {
        subject: opts.subject,
        claims: parseClaims(opts.claim),
        ...(opts.capability != null ? { capability: opts.capability } : {}),
        ...(opts.module != null ? { module: opts.module } : {}),
        ...(opts.nbf != null ? { nbf: parseWhen(opts.nbf) } : {}),
        exp: parseWhen(opts.exp)
      })
      const text = JSON.stringify(att, null, 2) + '\n'
      if (opts.output != null) await writeFile(opts.output, text)
      else process.stdout.write(text)
      process.stderr.write(`attestation ${attestationCid(att)}\n`)
    }))
  cmd.command('add <file>')
    .description('give this node an attestation about itself: it carries it in its bids')
    .option('-d, --data-dir <dir>', 'data dir of the pl-node (default: PL_DATA_DIR or ~/.pl-node)')
    .action(action(async (file: string, opts: { dataDir?: string }) => {
      const L: Lib = await lib()
      const { attestationCid, SUBLEVELS } = L
      const att = await readJsonFile(file)
      L.checkAttestation(att)
      const cid = await withNode(resolveDataDir(opts.dataDir),
        async (req) => (await req<{ cid: string }>('POST', '/trust/attestations', att)).cid,
        async (store) => {
          const c = attestationCid(att)
          await store.json(SUBLEVELS.attestations).put(c, att)
          await store.blocks.put(att)
          return c
        })
      process.stdout.write(`${cid}\n`)
    }))
  cmd.command('list')
    .description('the attestations this node carries (revoked / expired marked)')
    .option('-d, --data-dir <dir>', 'data dir of the pl-node')
    .option('--json', 'print JSON')
    .action(action(async (opts: { dataDir?: string, json?: boolean }) => {
      const { SUBLEVELS, revocationKey } = await lib()
      const list = await withNode(resolveDataDir(opts.dataDir),
        async (req) => await req<Array<{ cid: string, attestation: Attestation, revoked: boolean, expired: boolean }>>('GET', '/trust/attestations'),
        async (store) => {
          const revoked = new Set<string>()
          for await (const v of store.json(SUBLEVELS.revocations).values()) revoked.add(revocationKey(v as Revocation))
          const out: Array<{ cid: string, attestation: Attestation, revoked: boolean, expired: boolean }> = []
          // expiry as of the operator's wall time: this offline listing runs without a node clock
          for await (const [k, v] of store.json(SUBLEVELS.attestations).iterator()) {
            const att = v as Attestation
            out.push({ cid: k as string, attestation: att, revoked: revoked.has(`${k as string}\x00${att.issuer}`), expired: Date.now() >= att.exp })
          }
          return out
        })
      if (opts.json === true) return printJson(list)
      for (const { cid, attestation: a, revoked, expired } of list) {
        const claims = Object.entries(a.claims).map(([k, v]) => `${k}=${String(v)}`).join(' ')
        process.stdout.write(`${cid}  ${claims}  by ${a.issuer}  until ${new Date(a.exp).toISOString()}${revoked ? '  REVOKED' : ''}${expired ? '  EXPIRED' : ''}\n`)
      }
    }))
  cmd.command('revoke <attestation>')
    .description('sign a Revocation.v1 of an attestation (file or CID) with its issuer key; a running node gossips it')
    .requiredOption('--key <file>', 'the issuer key file')
    .option('--reason <text>', 'why')
    .option('-d, --data-dir <dir>', 'data dir of a pl-node to record and gossip the revocation on')
    .option('-o, --output <file>', 'also write the revocation to this file (for trust files)')
    .action(action(async (target: string, opts: { key: string, reason?: string, dataDir?: string, output?: string }) => {
      const L: Lib = await lib()
      const { attestationCid, parseCid, issueRevocation, SUBLEVELS, revocationKey } = L
      const issuer = await loadKeyFile(opts.key)
      let cid: string
      if (existsSync(target)) {
        const att = await readJsonFile(target)
        L.checkAttestation(att)
        if (att.issuer !== issuer.id) throw new TrustFileError(`attestation ${attestationCid(att)} was issued by ${att.issuer}; only its issuer can revoke it (this key is ${issuer.id})`, { issuer: att.issuer })
        cid = attestationCid(att)
      } else {
        cid = parseCid(target).toString()
      }
      const rev = issueRevocation(issuer, cid, opts.reason)
      if (opts.output != null) await writeFile(opts.output, JSON.stringify(rev, null, 2) + '\n')
      if (opts.dataDir != null || process.env.PL_DATA_DIR != null) {
        await withNode(resolveDataDir(opts.dataDir),
          async (req) => await req('POST', '/trust/revocations', rev),
          async (store) => {
            L.checkRevocation(rev)
            await store.json(SUBLEVELS.revocations).put(revocationKey(rev), rev)
          })
      }
      process.stdout.write(`revoked ${cid}\n`)
    }))
}

function registerTrust (program: Command): void {
  const cmd = program.command('trust').description('Trusted issuers of this node (data dir trust.json, besides the config\'s trust.issuers); trust files for offline checks')
  const fileOf = (dataDir?: string): string => join(resolveDataDir(dataDir), TRUST_FILE)
  cmd.command('add <peerId>')
    .description('trust an issuer (its PeerId), optionally only for some claim keys')
    .option('--name <name>', 'a name for it')
    .option('--claims <keys>', 'comma-separated claim keys it may vouch for (default: all)')
    .option('-d, --data-dir <dir>', 'data dir of the pl-node')
    .action(action(async (peer: string, opts: { name?: string, claims?: string, dataDir?: string }) => {
      const { checkIssuer, readTrustFile, writeTrustFile } = await lib()
      const issuer = checkIssuer({ key: peer, ...(opts.name != null ? { name: opts.name } : {}), ...(opts.claims != null ? { claims: opts.claims.split(',').map(s => s.trim()).filter(Boolean) } : {}) }, 'pl trust add')
      const path = fileOf(opts.dataDir)
      const file = await readTrustFile(path, { missingOk: true })
      file.issuers = [...file.issuers.filter(i => i.key !== issuer.key), issuer]
      await writeTrustFile(path, file)
      process.stdout.write(`trusted ${issuer.key}${issuer.name != null ? ` (${issuer.name})` : ''}\n`)
    }))
  cmd.command('list')
    .description('the issuers trusted in the data dir\'s trust.json (a running node adds those of its config: GET /trust/issuers)')
    .option('-d, --data-dir <dir>', 'data dir of the pl-node')
    .option('--json', 'print JSON')
    .action(action(async (opts: { dataDir?: string, json?: boolean }) => {
      const { readTrustFile } = await lib()
      const file = await readTrustFile(fileOf(opts.dataDir), { missingOk: true })
      if (opts.json === true) return printJson(file.issuers)
      for (const i of file.issuers) process.stdout.write(`${i.key}${i.name != null ? `  ${i.name}` : ''}${i.claims != null ? `  claims: ${i.claims.join(',')}` : ''}\n`)
    }))
  cmd.command('remove <peerIdOrName>')
    .description('stop trusting an issuer')
    .option('-d, --data-dir <dir>', 'data dir of the pl-node')
    .action(action(async (who: string, opts: { dataDir?: string }) => {
      const { readTrustFile, writeTrustFile } = await lib()
      const path = fileOf(opts.dataDir)
      const file = await readTrustFile(path, { missingOk: true })
      const left = file.issuers.filter(i => i.key !== who && i.name !== who)
      if (left.length === file.issuers.length) throw new TrustFileError(`no trusted issuer ${who} in ${path}`, { issuer: who })
      await writeTrustFile(path, { ...file, issuers: left })
      process.stdout.write(`removed ${who}\n`)
    }))
  cmd.command('export <runId>')
    .description('write a trust file for offline checks of a run\'s receipts: the trusted issuers, and the attestations, policies and revocations the receipts refer to')
    .option('-d, --data-dir <dir>', 'data dir of the pl-node')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .action(action(async (runId: string, opts: { dataDir?: string, output?: string }) => {
      const { exportTrust } = await lib()
      const dataDir = resolveDataDir(opts.dataDir)
      const out = await withNode(dataDir,
        async (req) => await req<TrustFile>('GET', `/trust/export/${encodeURIComponent(runId)}`),
        async (store) => await exportTrust(store, dataDir, runId))
      const text = JSON.stringify(out, null, 2) + '\n'
      if (opts.output != null) await writeFile(opts.output, text)
      else process.stdout.write(text)
    }))
}

function registerPolicy (program: Command): void {
  const cmd = program.command('policy').description('Policy.v1 documents, addressed by CID')
  cmd.command('create <file>')
    .description('store a Policy.v1 (YAML or JSON) on the node, announce it in the mesh, print its CID')
    .option('-d, --data-dir <dir>', 'data dir of the pl-node')
    .action(action(async (file: string, opts: { dataDir?: string }) => {
      const [{ SUBLEVELS, cidStringOf }, { SchemaRegistry }] = await Promise.all([lib(), import('../../spec/index.js')])
      const doc = await readJsonFile(file)
      SchemaRegistry.loadSync().validate('Policy.v1', doc)
      const cid = await withNode(resolveDataDir(opts.dataDir),
        async (req) => (await req<{ cid: string }>('POST', '/trust/policies', doc)).cid,
        async (store) => {
          const c = await store.blocks.put(doc)
          await store.json(SUBLEVELS.policies).put(c, true)
          return c
        })
      if (cid !== cidStringOf(doc)) throw new TrustFileError(`the node stored the policy as ${cid}, expected ${cidStringOf(doc)}`, { cid })
      process.stdout.write(`${cid}\n`)
    }))
}

export function register (program: Command): void {
  registerAttest(program)
  registerTrust(program)
  registerPolicy(program)
}

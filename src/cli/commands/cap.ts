/**
 * `pl cap …`: publish, unpublish, list and find capabilities through the
 * running pl-node of the data dir (its control API).
 *
 * @example
 * pl cap publish summarize.yaml --impl ./module_summarize
 * pl cap find Summarize --attr 'readability>=0.8' --policy cid:pol-PII-no-exfil --json
 */
import { stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import type * as DescriptorFileModule from '../../discovery/descriptor-file.js'
import { requireDaemon } from '../daemon.js'
import { spin } from '../progress.js'
import { CID_TEXT } from '../../discovery/constants.js'
import { InvalidCapabilityQueryError, InvalidDescriptorError } from '../../discovery/errors.js'
import type { CapabilityQuery, FoundCapability, ImplRef, IoSchema } from '../../discovery/types.js'
import { action, printJson } from '../util.js'
import { descriptorFromSpec } from '../../composite/descriptor.js'
import { CAPABILITY_KEYWORD } from '../../spec/compiler/capability.js'

// what an action needs loads when it runs: registering the commands (`pl --help`) stays light
const descriptorFile = async (): Promise<typeof DescriptorFileModule> => await import('../../discovery/descriptor-file.js')

/** Reads a capability descriptor file (YAML or JSON) and its `impl:`. */
export async function readDescriptorFile (path: string): Promise<{ descriptor: Record<string, unknown>, impl?: ImplRef }> {
  return await (await descriptorFile()).readDescriptorFile(path)
}

function isCapabilitySpec (doc: unknown): boolean {
  return doc != null && typeof doc === 'object' && !Array.isArray(doc) && CAPABILITY_KEYWORD in doc
}

/** `--io-match`: a schema CID, or a file with a schema (the input) or with {input?, output?}. */
async function ioOf (input?: string, output?: string): Promise<CapabilityQuery['io'] | undefined> {
  const load = async (arg: string, dir: 'input' | 'output'): Promise<CapabilityQuery['io']> => {
    const isFile = await stat(arg).then(s => s.isFile(), () => false)
    if (!isFile) {
      if (CID_TEXT.test(arg)) return { [dir]: arg }
      throw new InvalidCapabilityQueryError(`--${dir === 'input' ? 'io' : 'output'}-match ${arg}: no such file, and not a schema CID`)
    }
    const doc = await (await descriptorFile()).readDocument(arg, 'schema')
    if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) throw new InvalidCapabilityQueryError(`schema ${arg} must be a JSON Schema object`)
    const d = doc as Record<string, unknown>
    const wrapped = dir === 'input' && ('input' in d || 'output' in d) && !('type' in d) && !('properties' in d)
    return wrapped ? { ...(d.input != null ? { input: d.input as IoSchema } : {}), ...(d.output != null ? { output: d.output as IoSchema } : {}) } : { [dir]: d as IoSchema }
  }
  let io: CapabilityQuery['io']
  if (input != null) io = await load(input, 'input')
  if (output != null) io = { ...io, ...await load(output, 'output') }
  return io
}

/** `pl cap publish <folder>` reads `<folder>/capability.yaml` (or .yml/.json). */
async function descriptorPath (target: string): Promise<string> {
  const isDir = await stat(target).then(st => st.isDirectory(), () => false)
  if (!isDir) return target
  for (const name of ['capability.yaml', 'capability.yml', 'capability.json']) {
    const p = join(target, name)
    if (await stat(p).then(st => st.isFile(), () => false)) return p
  }
  throw new InvalidDescriptorError(`${target} is a folder without capability.yaml (pl spec scaffold writes one; or pass the descriptor file)`, { path: target })
}

/**
 * A module folder edited since publish: the node keeps the code it pinned
 * (and reports the change only when it next loads its records). This
 * command runs next to the node, so it re-hashes the folders and says so.
 */
async function markChangedFolders (list: any[]): Promise<void> {
  const { folderCid } = await import('../../core/index.js')
  await Promise.all(list.map(async (c) => {
    const dir = c.impl?.dir
    const pinned = c.descriptor?.module?.cid
    if (c.active !== true || typeof dir !== 'string' || typeof pinned !== 'string') return
    const now = await folderCid(dir).catch((err: Error) => `unreadable (${err.name}: ${err.message})`)
    if (now !== pinned) {
      c.active = false
      c.problem = `module folder ${dir} changed since publish (now ${now}, published ${pinned}); the node still runs the published code: publish it again`
    }
  }))
}

function collect (value: string, previous: string[]): string[] {
  return [...previous, value]
}

function positiveInt (value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0) throw new InvalidCapabilityQueryError(`expected a positive integer, got ${value}`)
  return n
}

// the operator's wall time (the CLI has no node clock); tests pass `now`
function describeFound (f: FoundCapability, now = Date.now()): string {
  const d = f.descriptor
  const attrs = Object.entries(d.attrs ?? {}).map(([k, v]) => `${k}=${String(v)}`).join(' ')
  const lines = [
    `${d.name}@${d.version}  provider ${f.provider}  (${f.source}, expires in ${Math.max(0, Math.round((f.expires - now) / 1000))} s)`,
    `  cid ${f.cid}${d.price != null ? `  price ${d.price}` : ''}${attrs !== '' ? `  attrs ${attrs}` : ''}`
  ]
  const policies = [...(d.policies ?? []), ...(d.attestations ?? [])]
  if (policies.length > 0) lines.push(`  policies ${policies.join(', ')}`)
  if (f.addrs.length > 0) lines.push(`  addrs ${f.addrs.slice(0, 3).join(' ')}`)
  return lines.join('\n')
}

export function register (program: Command): void {
  const cap = program.command('cap').description('Capabilities over the mesh: publish what this node can do, find who can do something.')

  cap.command('publish [descriptor]')
    .description('Publish a Capability.v1 descriptor (JSON or YAML; `provider` is filled in), or a module folder with its capability.yaml (as pl spec scaffold writes). `impl: ./module_dir` in the file (relative to it) or --impl binds it to a local module folder, pinned by CID. --a2a <agent card URL> publishes a skill of an A2A agent instead; --mcp/--mcp-url (no descriptor) one capability per tool of an MCP server (docs/BRIDGES.md). Prints the descriptor CID.')
    .option('-d, --data-dir <dir>', 'data directory of the running pl-node (env PL_DATA_DIR)')
    .option('--impl <dir>', 'module folder implementing the capability (function.mjs|function.js|function.py)')
    .option('--class-name <name>', 'Python: the class of function.py to run')
    .option('--a2a <url>', 'agent card URL of an A2A agent: publish one of its skills, served by this node\'s A2A bridge')
    .option('--skill <id>', 'with --a2a: the skill (default: the card\'s first)')
    .option('--name <name>', 'with --a2a: the capability name (default: the skill id)')
    .option('--price <n>', 'with --a2a: the price to bid', Number)
    .option('--json', 'print {cid, descriptor} as JSON')
    .option('--mcp <command>', 'an MCP server started by the node as a local process ("<command args>", split into argv, no shell): publish its tools')
    .option('--mcp-url <url>', 'an MCP server over streamable HTTP: publish its tools')
    .option('--tool <name>', 'with --mcp/--mcp-url: only this tool (repeatable)', collect, [])
    .option('--prefix <prefix>', 'with --mcp/--mcp-url: prepended to each capability name')
    .option('--plan <file>', 'a composite capability: the DSL plan that implements it, run over the mesh when awarded (docs/SPEC.md, Composite capabilities); the descriptor may be the spec `pl spec from-plan` derived from it')
    .action(action(async (target: string | undefined, opts: { dataDir?: string, impl?: string, className?: string, json?: boolean, a2a?: string, skill?: string, name?: string, price?: number, mcp?: string, mcpUrl?: string, tool: string[], prefix?: string, plan?: string }) => {
      if (opts.mcp != null || opts.mcpUrl != null) {
        if (target != null || (opts.mcp != null && opts.mcpUrl != null)) throw new InvalidDescriptorError('give one of: a descriptor, --mcp "<command>", --mcp-url <url>')
        const body = { target: opts.mcp ?? opts.mcpUrl, ...(opts.tool.length > 0 ? { tools: opts.tool } : {}), ...(opts.prefix != null ? { prefix: opts.prefix } : {}) }
        const res = await (await requireDaemon(opts.dataDir)).request<Array<{ cid: string, name: string, tool: string }>>('POST', '/mcp/publish', body)
        if (opts.json === true) printJson(res)
        else process.stdout.write(res.map(r => `${r.cid}  ${r.name}  (tool ${r.tool})\n`).join(''))
        return
      }
      if (opts.a2a != null || target == null) {
        if (opts.a2a == null || target != null) throw new InvalidDescriptorError('give a descriptor file or folder, --a2a <agent card URL>, or --mcp/--mcp-url')
        const { agentCapability } = await import('../../bridges/a2a/index.js')
        const { descriptor, impl } = await agentCapability({ card: opts.a2a, skill: opts.skill, name: opts.name, price: opts.price })
        const res = await (await requireDaemon(opts.dataDir)).request<{ cid: string, descriptor: Record<string, any> }>('POST', '/caps', { descriptor, impl })
        if (opts.json === true) printJson(res)
        else process.stdout.write(`${res.cid}\n`)
        return
      }
      const file = await descriptorPath(target)
      if (opts.plan != null && opts.impl != null) throw new InvalidDescriptorError('give one of --plan (a composite) and --impl (a module folder)')
      // a capability spec (x-pl-capability, as pl spec from-plan writes) publishes as its descriptor
      const doc = await (await descriptorFile()).readDocument(file, 'descriptor')
      const { descriptor, impl: fileImpl } = isCapabilitySpec(doc) ? { descriptor: descriptorFromSpec(doc), impl: undefined } : await readDescriptorFile(file)
      let impl: ImplRef | undefined = opts.plan != null ? { plan: resolve(opts.plan) } : opts.impl != null ? { dir: resolve(opts.impl) } : fileImpl
      if (opts.className != null) {
        if (impl?.dir == null) throw new InvalidDescriptorError('--class-name needs a module folder (--impl or impl: in the descriptor)')
        impl = { ...impl, className: opts.className }
      }
      if (impl == null) {
        process.stderr.write(`warning: ${String(descriptor.name)} has no module (no impl: in ${file}, no --impl): this node advertises it but declines every call to it; add impl: ./<module folder> or pass --impl DIR\n`)
      }
      const res = await (await requireDaemon(opts.dataDir)).request<{ cid: string, descriptor: Record<string, any> }>('POST', '/caps', { descriptor, ...(impl != null ? { impl } : {}) })
      if (opts.json === true) printJson(res)
      else process.stdout.write(`${res.cid}\n`)
    }))

  cap.command('unpublish <cidOrName>')
    .description('Stop publishing a capability (by descriptor CID, or every version of a name); peers are sent a withdrawal.')
    .option('-d, --data-dir <dir>', 'data directory of the running pl-node (env PL_DATA_DIR)')
    .action(action(async (id: string, opts: { dataDir?: string }) => {
      const res = await (await requireDaemon(opts.dataDir)).request<{ removed: string[] }>('DELETE', `/caps/${encodeURIComponent(id)}`)
      process.stdout.write(res.removed.map(c => `unpublished ${c}\n`).join(''))
    }))

  cap.command('list')
    .description('The capabilities this node publishes, with their bound module folders.')
    .option('-d, --data-dir <dir>', 'data directory of the running pl-node (env PL_DATA_DIR)')
    .option('--json', 'print JSON')
    .action(action(async (opts: { dataDir?: string, json?: boolean }) => {
      const list = await (await requireDaemon(opts.dataDir)).request<any[]>('GET', '/caps/local')
      if (opts.json === true) { printJson(list); return }
      if (list.length === 0) { process.stdout.write('this node publishes no capability\n'); return }
      await markChangedFolders(list)
      for (const c of list) {
        const module = c.module == null
          ? 'no local module'
          : c.module.external != null ? `external ${String(c.module.external.kind)} ${String(c.module.external.target)}` : `${String(c.module.kind)} ${String(c.module.dir)}`
        process.stdout.write(`${String(c.descriptor.name)}@${String(c.descriptor.version)}  ${String(c.cid)}  ${module}${c.active === true ? '' : `  INACTIVE: ${String(c.problem)}`}\n`)
      }
    }))

  cap.command('find <name>')
    .description('Find providers of a capability: the local catalog (gossip) merged with a DHT walk. Filters: exact --version, --attr key<op>value (op: >= <= > < =, repeatable), --policy (repeatable), --io-match/--output-match (structural schema match).')
    .option('-d, --data-dir <dir>', 'data directory of the running pl-node (env PL_DATA_DIR)')
    .option('--version <version>', 'exact version')
    .option('--attr <filter>', 'attribute filter such as readability>=0.8 (repeatable)', collect, [])
    .option('--policy <policy>', 'required policy or attestation (repeatable)', collect, [])
    .option('--io-match <file|cid>', 'input schema the capability must accept (a file may also hold {input, output})')
    .option('--output-match <file|cid>', 'output schema the capability must satisfy')
    .option('--timeout <ms>', 'time budget of the find (default: the node\'s services.discovery.findTimeoutMs, 5000)', positiveInt)
    .option('--limit <n>', 'stop the DHT walk once this many providers are known', positiveInt)
    .option('--local', 'no network: this node and its catalog only')
    .option('--dht-only', 'skip the catalog: DHT walk only')
    .option('--json', 'print JSON')
    .action(action(async (name: string, opts: { dataDir?: string, version?: string, attr: string[], policy: string[], ioMatch?: string, outputMatch?: string, timeout?: number, limit?: number, local?: boolean, dhtOnly?: boolean, json?: boolean }) => {
      const query: CapabilityQuery = { name }
      if (opts.version != null) query.version = opts.version
      if (opts.attr.length > 0) {
        const { parseAttrFilter } = await import('../../discovery/index.js')
        query.attrs = opts.attr.map(parseAttrFilter)
      }
      if (opts.policy.length > 0) query.policies = opts.policy
      const io = await ioOf(opts.ioMatch, opts.outputMatch)
      if (io != null) query.io = io
      const node = await requireDaemon(opts.dataDir)
      let localOnly = opts.local === true
      if (!localOnly) {
        // a lone node has nobody to ask: answer from this node at once instead of walking an empty DHT
        const { peers } = await node.request<{ peers: number }>('GET', '/health')
        if (peers === 0) {
          localOnly = true
          process.stderr.write('this node has no peers: searched this node only (no DHT walk)\n')
        }
      }
      const options = { ...(opts.timeout != null ? { timeoutMs: opts.timeout } : {}), ...(opts.limit != null ? { limit: opts.limit } : {}), ...(localOnly ? { localOnly: true } : {}), ...(opts.dhtOnly === true ? { dhtOnly: true } : {}) }
      // every page (the route answers at most 1000 results per request)
      const find = async (): Promise<FoundCapability[]> => await node.requestAll<FoundCapability>('POST', '/caps/find', { query, options, limit: 1000 }, { timeoutMs: (opts.timeout ?? 5_000) + 10_000 })
      const found = opts.json === true ? await find() : await spin(process.stderr, `finding providers of ${name}${localOnly ? ' on this node' : ' (catalog + DHT walk)'}`, find)
      if (opts.json === true) { printJson(found); return }
      if (found.length === 0) { process.stdout.write(`no provider of ${name} found\n`); return }
      process.stdout.write(found.map(f => describeFound(f)).join('\n') + '\n')
    }))
}


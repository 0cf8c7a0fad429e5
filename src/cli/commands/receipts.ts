/**
 * `pl receipts show|verify|export`: a run's receipts, read through the
 * running pl-node's control API or, when none runs on the data dir, straight
 * from its LevelDB. `verify <file>` is fully offline: it needs only the file.
 */
import { readFile, writeFile, stat } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { InputFileNotFoundError } from '../errors.js'
import type { Command } from 'commander'
import { action, printJson, resolveDataDir } from '../util.js'
import { connectDaemon } from '../daemon.js'
import type { ReceiptExport } from '../../receipts/index.js'
import { ReceiptNotFoundError } from '../../receipts/errors.js'

/** A run's export document, from the daemon if one runs on `dataDir`, else from the data dir itself. */
export async function loadRunExport (dataDir: string, runId: string): Promise<ReceiptExport> {
  const client = await connectDaemon(dataDir)
  if (client != null) {
    try {
      return await client.request<ReceiptExport>('GET', `/receipts/${encodeURIComponent(runId)}`)
    } catch (err) {
      // a stale control.json (the daemon died) falls through to reading the data dir
      if ((err as Error).name !== 'ControlApiUnavailableError') throw err
    }
  }
  if (!existsSync(join(dataDir, 'db'))) throw new ReceiptNotFoundError(`no receipts for run ${runId}: ${dataDir} holds no pl-node data (no database; is --data-dir / PL_DATA_DIR right?)`, { run: runId })
  const [{ Store }, { ReceiptStore }, { exportReceipts }] = await Promise.all([import('../../store/index.js'), import('../../receipts/index.js'), import('../../receipts/index.js')])
  const store = await Store.open(dataDir)
  try {
    const rs = new ReceiptStore(store)
    const receipts = await rs.forRun(runId)
    if (receipts.length === 0) throw new ReceiptNotFoundError(`no receipts for run ${runId} in ${dataDir}`, { run: runId })
    // the receipts of composite steps' inner runs come along: the whole tree verifies offline
    return exportReceipts(await rs.withInner(receipts))
  } finally {
    await store.close()
  }
}

async function isFile (path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile()
  } catch {
    return false
  }
}

function short (text: string, n = 12): string {
  return text.length > n + 3 ? `${text.slice(0, n)}…` : text
}

async function render (doc: ReceiptExport): Promise<string> {
  const { receiptCid } = await import('../../receipts/index.js')
  const lines = [`run ${doc.run}`, `root ${doc.root}`, '']
  for (const { receipt: r, requester_sig: accepted } of doc.receipts) {
    const where = r.provider === r.requester ? `local ${short(r.provider)}` : `${short(r.provider)} for ${short(r.requester)}`
    lines.push(`${r.step}  ${r.capability}  ${r.status}  ${where}  wall ${Math.round(r.usage.wall_ms)} ms  cpu ${Math.round(r.usage.cpu_ms)} ms  mem ${Math.round(r.usage.mem_peak_mb)} MiB${accepted == null ? '  (not countersigned)' : ''}`)
    lines.push(`    receipt ${receiptCid(r)}  prev [${r.prev.map(p => short(p, 16)).join(', ')}]`)
  }
  return lines.join('\n') + '\n'
}

export function register (program: Command): void {
  const cmd = program.command('receipts').description('Signed receipts of a run: show, verify offline, export')
  cmd.command('show <runId>')
    .description("print a run's receipts (which node ran each step, usage, chain links)")
    .option('-d, --data-dir <dir>', 'data dir of the pl-node (default: PL_DATA_DIR or ~/.pl-node)')
    .option('--json', 'print the export document as JSON')
    .action(action(async (runId: string, opts: { dataDir?: string, json?: boolean }) => {
      const doc = await loadRunExport(resolveDataDir(opts.dataDir), runId)
      if (opts.json === true) printJson(doc)
      else process.stdout.write(await render(doc))
    }))
  cmd.command('verify <fileOrRunId>')
    .description('verify a receipts export file offline (or a run of the data dir): signatures, prev links, one receipt per step, root')
    .option('-d, --data-dir <dir>', 'data dir, when verifying a run id')
    .option('--trust <file>', 'also check the attestations and policies the receipts record against this trust file (pl trust export)')
    .action(action(async (target: string, opts: { dataDir?: string, trust?: string }) => {
      // run ids never hold a slash or end in .json: such a target is a file that is not there
      if (!await isFile(target) && (target.includes('/') || /\.json$/i.test(target))) throw new InputFileNotFoundError(`${target}: no such file (pl receipts verify takes an export file or a run id)`, { path: target })
      // the receipt and trust modules load when a command runs: `pl --help` stays light
      const [{ decodeJson }, { fromJsonLd }, { verifyExport }] = await Promise.all([import('../../core/encoding.js'), import('../../receipts/index.js'), import('../../receipts/index.js')])
      const doc = await isFile(target) ? fromJsonLd(decodeJson(await readFile(target))) : await loadRunExport(resolveDataDir(opts.dataDir), target)
      const result = verifyExport(doc)
      const inner = result.inner > 0 ? ` (${result.inner} of them from composite steps' inner runs)` : ''
      process.stdout.write(`ok: ${result.receipts} receipt${result.receipts === 1 ? '' : 's'} of run ${result.run}${inner} verify; root ${result.root}\n`)
      if (opts.trust != null) {
        const { checkReceiptsTrust, readTrustFile } = await import('../../trust/index.js')
        const trust = checkReceiptsTrust((doc as ReceiptExport).receipts.map(s => s.receipt), await readTrustFile(opts.trust))
        process.stdout.write(`ok: trust holds: ${trust.attestations} attestation${trust.attestations === 1 ? '' : 's'} from trusted issuers, ${trust.policies} polic${trust.policies === 1 ? 'y' : 'ies'} met\n`)
      }
    }))
  cmd.command('export <runId>')
    .description("write a run's receipts as dag-json (stdout, or -o file); --jsonld adds the pl JSON-LD context (PROV-O terms) so linked-data tools read it")
    .option('-d, --data-dir <dir>', 'data dir of the pl-node')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .option('--jsonld', 'JSON-LD: the context inline and @types on the export, signed receipts and receipts (pl receipts verify reads it too)')
    .action(action(async (runId: string, opts: { dataDir?: string, output?: string, jsonld?: boolean }) => {
      const doc = await loadRunExport(resolveDataDir(opts.dataDir), runId)
      const [{ encodeJson }, { exportJsonLd }] = await Promise.all([import('../../core/encoding.js'), import('../../receipts/index.js')])
      const bytes = encodeJson(opts.jsonld === true ? exportJsonLd(doc) : doc)
      if (opts.output != null) await writeFile(opts.output, bytes)
      else process.stdout.write(Buffer.from(bytes).toString('utf8') + '\n')
    }))
}

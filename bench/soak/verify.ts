/**
 * Verifies the receipts a requester stored for a run: each one's signatures
 * (src/receipts `verifySignedReceipt`), that it belongs to the run, that its
 * `prev` links resolve within the run's set, that every receipt CID a step
 * reports is among them, and src/receipts `verifyChain` (or `verifyExport`)
 * over the whole set. `cliVerify` runs the user's path,
 * `pl receipts verify <runId>`, for a sample of runs.
 *
 * @example
 * const problems = await verifyRunReceipts(runId, receipts, view.steps)
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { cidStringOf } from '../../src/core/encoding.js'
import { errorToData } from '../../src/core/errors.js'
import { verifyChain, verifyExport, receiptCid, verifySignedReceipt, type SignedReceipt } from '../../src/receipts/index.js'
import type { StepView } from './records.js'

function describe (err: unknown): string {
  const d = errorToData(err)
  return `${d.name}: ${d.message}`
}

/** Problems found in one run's stored receipts (empty when all verify). */
export interface VerifyRunOptions {
  /** also run src/receipts verifyChain (or verifyExport when `exportDoc` is given) @default true */
  chain?: boolean
  /** the export document the node served (`{v, run, root, receipts}`): its root is checked too */
  exportDoc?: unknown
}

export async function verifyRunReceipts (runId: string, receipts: unknown[], steps: StepView[] = [], options: VerifyRunOptions = {}): Promise<string[]> {
  const problems: string[] = []
  const valid: SignedReceipt[] = []
  receipts.forEach((r, i) => {
    try {
      verifySignedReceipt(r)
      valid.push(r)
    } catch (err) {
      problems.push(`receipt #${i} does not verify: ${describe(err)}`)
    }
  })
  const cids = new Set<string>()
  for (const s of valid) {
    cids.add(receiptCid(s.receipt))
    cids.add(cidStringOf(s))
  }
  for (const s of valid) {
    if (s.receipt.run !== runId) problems.push(`receipt of step ${s.receipt.step} names run ${s.receipt.run}`)
    for (const prev of s.receipt.prev) {
      if (!cids.has(prev)) problems.push(`receipt of step ${s.receipt.step}: prev link ${prev} does not resolve within the run's receipts`)
    }
  }
  for (const step of steps) {
    if (step.state === 'succeeded' && step.receipt != null && !cids.has(step.receipt)) problems.push(`step ${step.key} reports receipt ${step.receipt}, which is not among the stored receipts`)
  }
  if (options.chain !== false && valid.length > 0 && valid.length === receipts.length) {
    const exportDoc = options.exportDoc
    const label = exportDoc != null ? 'verifyExport' : 'verifyChain'
    try {
      if (exportDoc != null) verifyExport(exportDoc) // throws the first problem
      else verifyChain(valid)
    } catch (err) {
      problems.push(`${label}: ${describe(err)}`)
    }
  }
  return problems
}

/** The `pl` CLI next to this compiled file. */
export const PL_CLI = fileURLToPath(new URL('../../src/cli/pl.js', import.meta.url))

export interface CliResult { code: number | null, stdout: string, stderr: string }

/** Runs `pl <args>` to completion (killed after `timeoutMs`). */
export async function runPl (args: string[], options: { timeoutMs?: number, env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const proc = spawn(process.execPath, [PL_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } })
  let stdout = ''
  let stderr = ''
  proc.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  proc.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs ?? 60_000)
  const code = await new Promise<number | null>((resolve) => { proc.once('close', (c) => { resolve(c) }) })
  clearTimeout(timer)
  return { code, stdout, stderr }
}

/** `pl receipts verify <runId> --data-dir <dir>`: undefined when it passes, else the reason. */
export async function cliVerify (dataDir: string, runId: string): Promise<string | undefined> {
  const r = await runPl(['receipts', 'verify', runId, '--data-dir', dataDir])
  if (r.code === 0) return undefined
  return `pl receipts verify ${runId} exited ${String(r.code)}: ${(r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' | ').slice(0, 400)}`
}

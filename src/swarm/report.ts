/**
 * Renders the demo's outcome for a terminal: the result, who ran each step
 * and why it won, and the receipt chain.
 */
import type { ChainVerification, ReceiptExport } from '../receipts/index.js'

export interface DemoRun {
  runId: string
  /** `GET /runs/:id` of the requester */
  view: any
  /** `GET /runs/:id/explanations` of the requester, keyed by step key */
  explanations: any
  receipts: ReceiptExport
  chain?: ChainVerification
  chainError?: string
  /** peer ids by swarm node index */
  peers: string[]
}

function nodeOf (peers: string[], peer: unknown): string {
  const i = peers.indexOf(String(peer))
  return i >= 0 ? `node ${i}` : String(peer ?? '?').slice(-8)
}

function num (v: unknown): string {
  return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : '-'
}

/** One line saying why the winner of a step won (from its award explanation). */
export function whyLine (ex: any, peers: string[]): string {
  if (ex == null) return 'ran locally (no negotiation)'
  const bids: any[] = Array.isArray(ex.bids) ? ex.bids : []
  const declines: any[] = Array.isArray(ex.declines) ? ex.declines : []
  const failures: any[] = Array.isArray(ex.failures) ? ex.failures : (Array.isArray(ex.attempts) ? ex.attempts.filter((a: any) => a.error != null) : [])
  const ranked = [...bids].sort((a, b) => (b.score ?? 0) - (a.score ?? 0))
  const parts = [`${bids.length} bid(s): ` + ranked.map(b => `${nodeOf(peers, b.provider ?? b.from)} score ${num(b.score)} price ${num(b.price)}`).join(', ')]
  if (declines.length > 0) parts.push('declined: ' + declines.map(d => `${nodeOf(peers, d.provider ?? d.from)} (${String(d.reason ?? d.message ?? '?')})`).join(', '))
  if (failures.length > 0) parts.push('failed over: ' + failures.map(f => `${nodeOf(peers, f.provider ?? f.from)} ${String(f.error?.name ?? f.reason ?? '')}`).join(', '))
  return parts.join('; ')
}

export function renderDemoReport (d: DemoRun): string {
  const out: string[] = []
  const run = d.view.run
  out.push(`run ${d.runId}: ${String(run.state)}${run.error != null ? ` — ${String(run.error.name)}: ${String(run.error.message)}` : ''}`)
  out.push('')
  const result = d.view.output
  if (result != null) {
    out.push('── result ' + '─'.repeat(60))
    out.push(typeof result?.document === 'string' ? result.document : JSON.stringify(result, null, 2))
    out.push('')
  }
  out.push('── who ran each step, and why ' + '─'.repeat(40))
  const steps: any[] = Array.isArray(d.view.steps) ? d.view.steps : []
  for (const s of steps) {
    const ex = d.explanations?.[s.key] ?? d.explanations?.[s.step]
    out.push(`${String(s.key).padEnd(26)} ${String(s.state).padEnd(10)} ${nodeOf(d.peers, s.executor).padEnd(8)} ${whyLine(ex, d.peers)}`)
  }
  out.push('')
  out.push('── receipts ' + '─'.repeat(58))
  if (d.chain != null) {
    out.push(`${d.chain.receipts} receipts, each signed by its provider and countersigned by the requester, verified offline`)
    out.push(`receipt root (identifies the run): ${d.chain.root}`)
  } else {
    out.push(`receipt chain did NOT verify: ${d.chainError ?? 'unknown error'}`)
  }
  return out.join('\n') + '\n'
}

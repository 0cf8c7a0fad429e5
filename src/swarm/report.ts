/**
 * Renders the demo's outcome for a terminal: the result, who ran each step
 * and why it won, and the receipt chain.
 */
import type { ChainVerification, ReceiptExport } from '../receipts/index.js'
import type { StepExplanation } from '../negotiation/index.js'

export interface DemoRun {
  runId: string
  /** `GET /runs/:id` of the requester */
  view: any
  /** `GET /runs/:id/explanations` of the requester */
  explanations: { run?: string, steps?: StepExplanation[] }
  receipts?: ReceiptExport
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

/** One line saying why the winner of a step won, from its award explanation (src/negotiation/explanation.ts). */
export function whyLine (ex: StepExplanation | undefined, peers: string[]): string {
  if (ex == null) return 'ran on the requester (local module, self-signed receipt)'
  const ranked = [...ex.bids].sort((a, b) => (a.rank ?? 99) - (b.rank ?? 99))
  const parts = [ranked.map(b => `${nodeOf(peers, b.provider)} ${b.status ?? ''} score ${num(b.score)} (price ${num(b.price)})`).join(', ')]
  const others = ex.answers.filter(a => a.kind !== 'bid')
  if (others.length > 0) parts.push(others.map(a => `${nodeOf(peers, a.provider)} ${a.kind}${a.reason != null ? ` ${a.reason}` : ''}${a.message != null ? `: ${a.message}` : ''}`).join(', '))
  const failed = ex.attempts.filter(a => a.outcome !== 'ok')
  if (failed.length > 0) parts.push('re-awarded after ' + failed.map(a => `${nodeOf(peers, a.provider)} ${a.outcome}${a.error != null ? ` (${a.error.name})` : ''}`).join(', '))
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
  const byKey = new Map((d.explanations?.steps ?? []).map(e => [e.step, e]))
  for (const s of steps) {
    const children = steps.filter(c => String(c.key).startsWith(`${String(s.key)}[`)).length
    const why = children > 0 ? `fan-out over ${children} item(s)` : whyLine(byKey.get(s.key), d.peers)
    out.push(`${String(s.key).padEnd(22)} ${String(s.state).padEnd(10)} ${(children > 0 ? '' : nodeOf(d.peers, s.executor)).padEnd(7)} ${why}`)
    if (s.error != null) out.push(`${' '.repeat(23)}${String(s.error.name)}: ${String(s.error.message)}`)
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

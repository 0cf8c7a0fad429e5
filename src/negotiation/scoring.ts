/**
 * Scoring bids with the plan's `select` weights. Each attribute is min-max
 * normalized across the bids being compared (all equal → 1 for everyone);
 * cost-like attributes (price, eta_ms, ...) are inverted so that less scores
 * higher; a bid without a numeric value for an attribute gets 0 for it.
 * score = Σ weight × normalized. Ties go to the lower price, then the lower
 * eta, then the smaller peer id, so the ranking is deterministic.
 *
 * @example
 * scoreBids([{price: 2, attrs: {readability: 0.9}}, ...], [{attr: 'readability', weight: 0.6}, {attr: 'price', weight: 0.2}])
 */
import type { SelectWeight } from '../workflow/index.js'
import { DEFAULT_COST_ATTRS } from './constants.js'

export interface Scorable {
  provider: string
  price: number
  eta_ms: number
  attrs?: Record<string, number | string | boolean>
}

export interface ScoreTerm {
  /** the raw value, or null when the bid has none */
  value: number | null
  normalized: number
  weight: number
  contribution: number
  inverted: boolean
}

export interface Scored<T> {
  item: T
  score: number
  breakdown: Record<string, ScoreTerm>
}

export function attrValue (bid: Scorable, attr: string): number | null {
  const v = attr === 'price' ? bid.price : attr === 'eta_ms' ? bid.eta_ms : bid.attrs?.[attr]
  if (typeof v === 'number' && Number.isFinite(v)) return v
  if (typeof v === 'boolean') return v ? 1 : 0
  return null
}

/** Ranked best first. */
export function scoreBids<T extends Scorable> (bids: T[], select: SelectWeight[], costAttrs: string[] = DEFAULT_COST_ATTRS): Array<Scored<T>> {
  const cost = new Set(costAttrs)
  const ranges = new Map<string, { min: number, max: number }>()
  for (const { attr } of select) {
    const values = bids.map(b => attrValue(b, attr)).filter((v): v is number => v != null)
    if (values.length > 0) ranges.set(attr, { min: Math.min(...values), max: Math.max(...values) })
  }
  const scored = bids.map((item) => {
    const breakdown: Record<string, ScoreTerm> = {}
    let score = 0
    for (const { attr, weight } of select) {
      const value = attrValue(item, attr)
      const range = ranges.get(attr)
      const inverted = cost.has(attr)
      let normalized = 0
      if (value != null && range != null) {
        const unit = range.max === range.min ? 1 : (value - range.min) / (range.max - range.min)
        normalized = inverted && range.max !== range.min ? 1 - unit : unit
      }
      const contribution = weight * normalized
      breakdown[attr] = { value, normalized, weight, contribution, inverted }
      score += contribution
    }
    return { item, score, breakdown }
  })
  return scored.sort((a, b) =>
    b.score - a.score ||
    a.item.price - b.item.price ||
    a.item.eta_ms - b.item.eta_ms ||
    (a.item.provider < b.item.provider ? -1 : a.item.provider > b.item.provider ? 1 : 0))
}

// MergeSummaries: joins per-section summaries, in section order, into one
// Markdown summary that respects a word budget (a length constraint such as
// "<400w" from the plan, or parameters.max_words).

function budgetOf (parameters, inputData, context) {
  const c = parameters.length ?? inputData.length ?? inputData.constraints?.length ?? context?.constraints?.length
  const m = /^\s*<?\s*(\d+)\s*w/i.exec(String(c ?? ''))
  return Number(parameters.max_words ?? (m != null ? m[1] : 400))
}

export default class MergeSummaries {
  eval (parameters, inputData, context) {
    const items = inputData.items
    if (!Array.isArray(items) || items.some(i => typeof i?.summary !== 'string')) {
      throw new TypeError('MergeSummaries needs `items` as a list of {heading, summary}')
    }
    const budget = budgetOf(parameters, inputData, context)
    const parts = []
    let words = 0
    for (const item of [...items].sort((a, b) => (a.index ?? 0) - (b.index ?? 0))) {
      const n = item.summary.split(/\s+/).filter(Boolean).length
      if (words + n > budget) break
      parts.push(`### ${item.heading}\n${item.summary}`)
      words += n
    }
    return { summary: parts.join('\n\n'), sections: parts.length, words, budget }
  }
}

// Plain text utilities shared by the sample capabilities (no dependencies).

const STOP = new Set('a an and are as at be by for from has have in is it its of on or that the this to was were will with which who what when where why how not no can may than then there their they them these those into over per such so but if we our you your one two also each any all more most other some only own same very just'.split(' '))

export function words (text) {
  return (text.toLowerCase().match(/[a-z][a-z'-]*/g) ?? [])
}

export function sentences (text) {
  return text.replace(/\s+/g, ' ').trim().split(/(?<=[.!?])\s+(?=[A-Z"'(])/).filter(s => s.length > 0)
}

export function wordCount (text) {
  return words(text).length
}

/** Splits a Markdown document into sections at "## " headings. */
export function splitSections (markdown) {
  const lines = String(markdown).split(/\r?\n/)
  let title = ''
  const sections = []
  let current = null
  for (const line of lines) {
    const h1 = /^#\s+(.*)$/.exec(line)
    const h2 = /^##\s+(.*)$/.exec(line)
    if (h1 && !title) { title = h1[1].trim(); continue }
    if (h2) { current = { heading: h2[1].trim(), text: '' }; sections.push(current); continue }
    if (current) current.text += line + '\n'
  }
  return { title, sections: sections.map((s, i) => ({ index: i, heading: s.heading, text: s.text.trim() })).filter(s => s.text.length > 0) }
}

/** Term frequencies without stop words. */
export function termFrequencies (text) {
  const tf = new Map()
  for (const w of words(text)) if (!STOP.has(w) && w.length > 2) tf.set(w, (tf.get(w) ?? 0) + 1)
  return tf
}

/**
 * Extractive summary: scores sentences by the frequency of their content
 * words, keeps the best ones in document order until `maxWords`.
 */
export function summarize (text, maxWords) {
  const sents = sentences(text)
  const tf = termFrequencies(text)
  const scored = sents.map((s, i) => {
    const ws = words(s).filter(w => !STOP.has(w) && w.length > 2)
    const score = ws.reduce((a, w) => a + (tf.get(w) ?? 0), 0) / Math.sqrt(ws.length + 1)
    return { s, i, score, n: wordCount(s) }
  })
  const chosen = []
  let total = 0
  for (const c of [...scored].sort((a, b) => b.score - a.score || a.i - b.i)) {
    if (total + c.n > maxWords && chosen.length > 0) continue
    chosen.push(c)
    total += c.n
  }
  return chosen.sort((a, b) => a.i - b.i).map(c => c.s).join(' ')
}

/** Top content words, for references and keywords. */
export function keywords (text, n = 5) {
  return [...termFrequencies(text).entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, n).map(([w]) => w)
}

/** Parses a length constraint like "<400w" into a word budget. */
export function wordBudget (constraint, fallback = 400) {
  const m = /^\s*<?\s*(\d+)\s*w/i.exec(String(constraint ?? ''))
  return m ? Number(m[1]) : fallback
}

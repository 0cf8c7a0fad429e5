// FetchSections: splits a Markdown document into its "## " sections.
// Input: input_data.doc — the document text (or {text}). Output: a list of
// {index, heading, text, title}; the DSL `map` over it fans out one step per section.

function documentText (doc) {
  if (typeof doc === 'string') return doc
  if (doc != null && typeof doc.text === 'string') return doc.text
  throw new TypeError('FetchSections needs `doc` as Markdown text or {text}')
}

export default class FetchSections {
  eval (parameters, inputData) {
    const lines = documentText(inputData.doc).split(/\r?\n/)
    let title = ''
    const sections = []
    for (const line of lines) {
      const h1 = /^#\s+(.*)$/.exec(line)
      const h2 = /^##\s+(.*)$/.exec(line)
      if (h1 != null && title === '') title = h1[1].trim()
      else if (h2 != null) sections.push({ heading: h2[1].trim(), lines: [] })
      else if (sections.length > 0) sections[sections.length - 1].lines.push(line)
    }
    return sections
      .map(s => ({ heading: s.heading, text: s.lines.join('\n').trim() }))
      .filter(s => s.text.length > 0)
      .map((s, index) => ({ index, title, heading: s.heading, text: s.text }))
  }
}

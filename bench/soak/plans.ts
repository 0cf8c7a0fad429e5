/**
 * The plans a soak submits and the documents it feeds them. Plans are DSL
 * YAML texts: `sections` (bench/soak/plans/sections.yaml, one remote step)
 * and `summarize` (examples/plans/summarize.yaml: map
 * FetchSections → map Summarize → reduce MergeSummaries → join
 * AttachReferences). Each submission gets a slightly different document so
 * every run has its own input CID.
 *
 * @example
 * const plans = await loadPlans(['sections', 'summarize'])
 * const doc = soakDocument(base, 17)
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { packageRoot } from '../../src/core/paths.js'

export interface SoakPlan { name: string, file: string, text: string }

/** name → file of every known plan. */
export function planFiles (root = packageRoot()): Record<string, string> {
  return {
    sections: join(root, 'bench', 'soak', 'plans', 'sections.yaml'),
    summarize: join(root, 'examples', 'plans', 'summarize.yaml')
  }
}

export async function loadPlans (names: string[], root = packageRoot()): Promise<SoakPlan[]> {
  const files = planFiles(root)
  if (names.length === 0) throw new TypeError('no plan given')
  return await Promise.all(names.map(async (name) => {
    const file = files[name] ?? (name.endsWith('.yaml') || name.endsWith('.yml') ? name : undefined)
    if (file == null) throw new TypeError(`unknown plan '${name}': use ${Object.keys(files).join(', ')} or a path to a .yaml plan`)
    let text: string
    try { text = await readFile(file, 'utf8') } catch { throw new TypeError(`plan '${name}': cannot read ${file}`) }
    return { name: file === name ? name.split('/').pop()! : name, file, text }
  }))
}

/**
 * The base document: the title and first two sections of
 * examples/documents/mesh-notes.md (short, so a run stays small).
 */
export async function baseDocument (root = packageRoot()): Promise<string> {
  const text = await readFile(join(root, 'examples', 'documents', 'mesh-notes.md'), 'utf8')
  const parts = text.split(/\n(?=## )/)
  return parts.slice(0, 3).join('\n').trim() + '\n'
}

/** The document of submission `n`: the base with a numbered line in its first section. */
export function soakDocument (base: string, n: number): string {
  const at = base.indexOf('\n## ')
  const cut = base.indexOf('\n', at + 1)
  if (at < 0 || cut < 0) return `${base}\nSoak submission ${n}.\n`
  return `${base.slice(0, cut + 1)}Soak submission ${n}.\n${base.slice(cut + 1)}`
}

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

function walk (dir: string): string[] {
  return readdirSync(dir).flatMap(n => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : []
  })
}

/** Every error class in src/ that names itself (`override name = 'XError'`). */
function errorClassesInSource (): Set<string> {
  const names = new Set<string>()
  for (const file of walk(join(process.cwd(), 'src'))) {
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/class (\w+) extends \w+ \{\s*(?:static[^\n]*\n\s*)?override name = '(\w+)'/g)) {
      assert.equal(m[1], m[2], `${file}: class ${m[1]} sets name '${m[2]}'`)
      names.add(m[1])
    }
  }
  return names
}

/** docs/ERRORS.md plus the per-area fragments in docs/errors/*.md */
function errorNamesInDocs (): Set<string> {
  const dir = join(process.cwd(), 'docs', 'errors')
  const fragments = existsSync(dir) ? readdirSync(dir).filter(n => n.endsWith('.md')).map(n => join(dir, n)) : []
  const text = [join(process.cwd(), 'docs', 'ERRORS.md'), ...fragments].map(f => readFileSync(f, 'utf8')).join('\n')
  return new Set([...text.matchAll(/^\| `(\w+)` \|/gm)].map(m => m[1]))
}

test('every error class in src/ is documented in docs/ERRORS.md, and every documented error exists', () => {
  const src = errorClassesInSource()
  const docs = errorNamesInDocs()
  assert.deepEqual([...src].filter(n => !docs.has(n)).sort(), [], 'undocumented errors')
  assert.deepEqual([...docs].filter(n => !src.has(n)).sort(), [], 'documented errors that do not exist')
})

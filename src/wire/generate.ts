/**
 * Generates src/wire/types.gen.ts: the TypeScript types of every
 * protocols/schemas document, rendered by the spec compiler's own TS type
 * emitter (src/spec/compiler/emit/ts-types.ts), the same one `pl spec compile`
 * uses for generated packages. `npm run build` runs it first
 * (scripts/gen-wire-types.mjs bundles this file with esbuild, since tsc cannot
 * compile the project before the types exist); test/wire checks the committed
 * file is current.
 *
 * @example
 * const { text, types } = await generateWireTypes('protocols/schemas')
 * types.get('Capability.v1') // 'CapabilityV1'
 */
import { createContext, loadBundle, readSchemaDir, emitTsTypes } from '../spec/compiler/index.js'

/** The generated file, relative to the package root. */
export const WIRE_TYPES_FILE = 'src/wire/types.gen.ts'

const HEADER = `// Generated from protocols/schemas/*.json by src/wire/generate.ts — do not edit.
// Regenerate: npm run build (or bash scripts/node.sh scripts/gen-wire-types.mjs).
// Shared names and derived types live in src/wire/index.ts.
`

export interface WireTypes {
  /** the file's content */
  text: string
  /** schema title (`Capability.v1`) → its generated type name (`CapabilityV1`) */
  types: Map<string, string>
}

/** The generated types of every schema file in `dir` (only those files: refs they make are compiled, not emitted as roots). */
export async function generateWireTypes (dir: string): Promise<WireTypes> {
  const files = await readSchemaDir(dir)
  const bundle = await loadBundle([dir])
  const ctx = createContext(bundle)
  const emitted = emitTsTypes(ctx).replace(/^(\/\/[^\n]*\n)+/, '')
  const types = new Map<string, string>()
  for (const f of files) {
    const entry = ctx.entries.find(e => e.doc.key === String(f.doc.$id))
    if (entry != null) types.set(entry.label, entry.stem)
  }
  return { text: HEADER + emitted, types }
}

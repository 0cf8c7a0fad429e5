/**
 * `pl spec compile`: schema files → bundle → IR → generated files per
 * language. Generation is pure (same inputs, same bytes), so outputs can be
 * kept as golden files.
 *
 * @example
 * const files = await compileSchemas(['protocols/schemas'], { langs: ['ts', 'py', 'go'] })
 * await writeGenerated('/tmp/out', files)
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { BlockStore } from '../../store/index.js'
import { buildBundle, type Bundle } from './bundle.js'
import { createContext, RECEIPT_SCHEMA_IDS, type CompileContext, type CompileOptions } from './context.js'
import { UnknownLanguageError } from './errors.js'
import { DirSource, protocolSource, readSchemaPath, StoreSource, type SchemaSource } from './sources.js'
import { emitTsValidators } from './emit/ts-validators.js'
import { emitTsTypes } from './emit/ts-types.js'
import { emitTsCodec, emitTsIndex, emitTsReceipt } from './emit/ts-codec.js'
import { runtimeSource } from './emit/runtime-files.js'
import { emitPython } from './emit/py.js'
import { emitGo } from './emit/go.js'

export const LANGS = ['ts', 'py', 'go'] as const
export type Lang = typeof LANGS[number]

/** Parses `--lang ts,py,go`. */
export function parseLangs (text: string): Lang[] {
  const langs = text.split(',').map(s => s.trim()).filter(s => s !== '')
  if (langs.length === 0) throw new UnknownLanguageError('--lang needs at least one of ts, py, go')
  for (const l of langs) {
    if (!(LANGS as readonly string[]).includes(l)) throw new UnknownLanguageError(`unknown language "${l}" (supported: ${LANGS.join(', ')})`, { lang: l })
  }
  return [...new Set(langs)] as Lang[]
}

export interface LoadOptions {
  /** extra folders of schema files for `$id`/CID refs */
  schemaDirs?: string[]
  /** a node's block store for CID refs */
  blocks?: BlockStore
  /** more sources (e.g. a ControlSource), consulted after the folders and the store */
  sources?: SchemaSource[]
}

/** The sources consulted for refs, in order: folders, the local store, protocols/schemas. */
export function sourcesFor (options: LoadOptions = {}): SchemaSource[] {
  const out: SchemaSource[] = (options.schemaDirs ?? []).map(d => new DirSource(d))
  if (options.blocks != null) out.push(new StoreSource(options.blocks))
  out.push(...(options.sources ?? []))
  out.push(protocolSource())
  return out
}

/** Loads schema files/folders and everything their refs reach, plus the receipt schemas. */
export async function loadBundle (paths: string[], options: LoadOptions = {}): Promise<Bundle> {
  const inputs = (await Promise.all(paths.map(async p => await readSchemaPath(p)))).flat()
  return await buildBundle(inputs, { sources: sourcesFor(options), include: RECEIPT_SCHEMA_IDS })
}

export interface GenerateOptions extends CompileOptions {
  /** @default ['ts', 'py', 'go'] */
  langs?: Lang[]
}

/** Relative path → file content. */
export type GeneratedFiles = Map<string, string>

function manifest (ctx: CompileContext, langs: Lang[]): string {
  return JSON.stringify({
    generator: 'pl spec compile',
    format: 1,
    langs,
    schemas: ctx.entries.map(e => ({ name: e.label, id: e.ajvRef, ...(e.cid != null ? { cid: e.cid } : {}), type: e.stem })),
    capabilities: ctx.capabilities.map(c => ({ name: c.info.name, version: c.info.version, spec: c.specCid, input: c.input.label, output: c.output.label }))
  }, null, 2) + '\n'
}

export function generate (ctx: CompileContext, langs: Lang[]): GeneratedFiles {
  const files: GeneratedFiles = new Map()
  files.set('manifest.json', manifest(ctx, langs))
  if (langs.includes('ts')) {
    const v = emitTsValidators(ctx)
    files.set('ts/validators.js', v.js)
    files.set('ts/validators.d.ts', v.dts)
    files.set('ts/types.ts', emitTsTypes(ctx))
    files.set('ts/runtime.ts', runtimeSource('runtime.ts'))
    files.set('ts/trust.ts', runtimeSource('trust.ts'))
    files.set('ts/codec.ts', emitTsCodec(ctx))
    files.set('ts/receipt.ts', emitTsReceipt(ctx))
    files.set('ts/index.ts', emitTsIndex())
  }
  if (langs.includes('py')) for (const [p, text] of emitPython(ctx)) files.set(`py/${ctx.pyPackage}/${p}`, text)
  if (langs.includes('go')) for (const [p, text] of emitGo(ctx)) files.set(`go/${p}`, text)
  return files
}

/** Loads, bundles and generates. */
export async function compileSchemas (paths: string[], options: GenerateOptions & LoadOptions = {}): Promise<{ ctx: CompileContext, files: GeneratedFiles }> {
  const bundle = await loadBundle(paths, options)
  const ctx = createContext(bundle, options)
  return { ctx, files: generate(ctx, options.langs ?? [...LANGS]) }
}

export async function writeGenerated (outDir: string, files: GeneratedFiles): Promise<string[]> {
  const written: string[] = []
  for (const [rel, text] of [...files].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
    const p = join(outDir, ...rel.split('/'))
    await mkdir(dirname(p), { recursive: true })
    await writeFile(p, text)
    written.push(rel)
  }
  return written
}

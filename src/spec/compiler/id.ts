/**
 * `pl spec id`: the CID of a schema document — CIDv1(dag-cbor, sha2-256) of
 * the parsed JSON, exactly what the SchemaRegistry computes, so formatting
 * and key order never change it. With `check`, the document must also be in
 * the supported subset and every `$ref` must resolve.
 *
 * @example
 * (await specId('protocols/schemas/Bid.v1.json')).cid === registry.cidOf('Bid.v1') // true
 */
import { buildBundle } from './bundle.js'
import { sourcesFor, type LoadOptions } from './compile.js'
import { readSchemaFile, schemaCid } from './sources.js'
import { forEachSubschema } from './walk.js'

export interface SpecIdResult {
  cid: string
  id?: string
  title?: string
  /** with `check`: every $ref of the document and the CID of the document it names */
  refs?: Array<{ ref: string, target: string, cid: string }>
}

export async function specId (path: string, options: LoadOptions & { check?: boolean } = {}): Promise<SpecIdResult> {
  const loaded = await readSchemaFile(path)
  const out: SpecIdResult = { cid: schemaCid(loaded.doc) }
  if (typeof loaded.doc.$id === 'string') out.id = loaded.doc.$id
  if (typeof loaded.doc.title === 'string') out.title = loaded.doc.title
  if (options.check !== true) return out
  const bundle = await buildBundle([loaded], { sources: sourcesFor(options) })
  const self = bundle.docs[0]
  const refs: string[] = []
  forEachSubschema(self.doc, '#', (s) => { if (typeof s.$ref === 'string' && !refs.includes(s.$ref)) refs.push(s.$ref) })
  out.refs = refs.map(ref => {
    const t = bundle.resolve(self, ref)
    return { ref, target: `${t.doc.key}${t.pointer === '' ? '' : '#' + t.pointer}`, cid: t.doc.cid }
  })
  return out
}

/**
 * Linked data: the `pl` JSON-LD context (protocols/jsonld/pl-context.jsonld)
 * maps the fields of Capability.v1, Receipt.v1, Policy.v1 and Attestation.v1
 * to a documented vocabulary (docs/LINKED-DATA.md), reusing PROV-O for
 * provenance (a receipt's provider is `prov:wasAssociatedWith`, its input
 * `prov:used`, its output `prov:generated`, its prev `prov:wasInformedBy`) and
 * schema.org for names. The context is content-addressed; every gateway
 * serves it at `/.well-known/pl-context.jsonld`.
 *
 * @example
 * const doc = exportJsonLd(exportReceipts(receipts))   // pl receipts export --jsonld
 * await jsonld.expand(doc)                             // no field is dropped
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { cidStringOf } from '../core/encoding.js'
import { packageRoot } from '../core/paths.js'
import type { ReceiptExport } from './chain.js'

/** Where the context file lives in the package. */
export const CONTEXT_PATH = join('protocols', 'jsonld', 'pl-context.jsonld')
/** The path every gateway serves it at. */
export const CONTEXT_WELL_KNOWN = '/.well-known/pl-context.jsonld'

let cached: { doc: { '@context': Record<string, unknown> }, cid: string } | undefined

/** The context document `{"@context": {...}}` and its CID (dag-cbor, sha2-256). */
export function plContext (): { doc: { '@context': Record<string, unknown> }, cid: string } {
  if (cached == null) {
    const doc = JSON.parse(readFileSync(join(packageRoot(), CONTEXT_PATH), 'utf8')) as { '@context': Record<string, unknown> }
    cached = { doc, cid: cidStringOf(doc) }
  }
  return cached
}

/**
 * A receipt export as JSON-LD: the export document with the context inline
 * (so it expands offline, without fetching anything) and `@type`s on the
 * export, each signed receipt and each receipt. The signed fields are left
 * exactly as they were, so the receipts still verify after a round trip
 * through a JSON-LD processor's compaction.
 */
export function exportJsonLd (doc: ReceiptExport): Record<string, unknown> {
  const { doc: context, cid } = plContext()
  return {
    '@context': context['@context'],
    '@type': 'ReceiptExport',
    'pl:context': cid,
    ...doc,
    receipts: doc.receipts.map(r => ({ '@type': 'SignedReceipt', ...r, receipt: { '@type': 'Receipt', ...r.receipt } }))
  }
}

/** Undoes exportJsonLd: the plain export document (for `pl receipts verify`). */
export function fromJsonLd (doc: Record<string, unknown>): unknown {
  if (doc == null || typeof doc !== 'object' || !('@context' in doc)) return doc
  const { '@context': _c, '@type': _t, 'pl:context': _cid, ...rest } = doc as Record<string, any>
  if (!Array.isArray(rest.receipts)) return rest
  return {
    ...rest,
    receipts: rest.receipts.map((r: any) => {
      if (r == null || typeof r !== 'object') return r
      const { '@type': _st, ...signed } = r
      if (signed.receipt != null && typeof signed.receipt === 'object') {
        const { '@type': _rt, ...receipt } = signed.receipt
        signed.receipt = receipt
      }
      return signed
    })
  }
}

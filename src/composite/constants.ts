/** Defaults of composite capabilities (docs/SPEC.md, Composite capabilities). */

/** The ExternalImpl kind of a capability implemented by a plan. */
export const COMPOSITE_KIND = 'plan'
/** `kind` of the stored plan document a composite's impl names by CID. */
export const PLAN_DOC_KIND = 'pl/composite-plan'
/** Receipts of its inner run a composite step's receipt names (Receipt.v1 `inner.receipts` maxItems). */
export const MAX_INNER_RECEIPT_CIDS = 1024
/** Largest plan file a composite may name. */
export const MAX_PLAN_BYTES = 256 * 1024

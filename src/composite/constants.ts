/** Defaults of composite capabilities (docs/SPEC.md, Composite capabilities). */

/** The ExternalImpl kind of a capability implemented by a plan. */
export const COMPOSITE_KIND = 'plan'
/** `kind` of the stored plan document a composite's impl names by CID. */
export const PLAN_DOC_KIND = 'pl/composite-plan'
/** Largest plan file a composite may name. */
export const MAX_PLAN_BYTES = 256 * 1024

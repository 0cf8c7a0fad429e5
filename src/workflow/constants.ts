/** Defaults and bounds of the workflow front ends (see docs/WORKFLOW.md). */

/** Largest `max` a DSL `loop` may ask for. */
export const MAX_LOOP_ITERATIONS = 100
/** Router mode: iterations of the router when the caller does not say. */
export const DEFAULT_ROUTER_ITERATIONS = 20
/** Router mode: the largest bound a caller may set. */
export const MAX_ROUTER_ITERATIONS = 10_000
/** Bundles: largest single unpacked entry @default 64 MiB */
export const DEFAULT_MAX_ENTRY_BYTES = 64 * 2 ** 20
/** Bundles: largest total unpacked size @default 256 MiB */
export const DEFAULT_MAX_UNPACKED_BYTES = 256 * 2 ** 20
/** Bundles: most entries a ZIP may hold */
export const MAX_ZIP_ENTRIES = 10_000
/** Bundles: the manifest file written by `packBundle` */
export const MANIFEST_FILE = 'pl-manifest.json'
/** The workflow document of a bundle */
export const WORKFLOW_FILE = 'workflow.json'
/** Largest DSL or workflow.json text accepted (bytes) */
export const MAX_DOCUMENT_BYTES = 4 * 2 ** 20

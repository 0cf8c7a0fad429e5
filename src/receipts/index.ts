/**
 * Receipts: what a provider did for a step, signed by the provider and
 * countersigned by the requester, chained per run through `prev` into a DAG
 * whose root CID identifies the run. Checkable offline with only the
 * receipts (`verifyChain`, `verifyExport`, `pl receipts verify <file>`).
 *
 * @example
 * const signed = signReceipt(provider, receipt)                          // provider side
 * verifyReceiptAgainst(signed, { award, requester: me.id, input, output, limits })
 * const accepted = countersignReceipt(me, signed)                       // requester accepts
 * await new ReceiptStore(store).put(accepted)
 * verifyChain(await receiptStore.forRun(runId))                         // { run, root, sinks, receipts }
 */
export * from './errors.js'
export * from './signing.js'
export * from './verify.js'
export * from './chain.js'
export * from './call.js'
export * from './prev.js'
export { ReceiptStore } from './store.js'
export { ReceiptingRunner, selfAwardId, receiptLimits, receiptUsage, capabilityOf, type ReceiptingRunnerInit } from './runner.js'
export { ReceiptsService, receipts, type ReceiptsComponents } from './service.js'
export { plContext, exportJsonLd, fromJsonLd, CONTEXT_WELL_KNOWN, CONTEXT_PATH } from './jsonld.js'

/** Errors of the discovery area: one class per condition, discriminated by `.name`. */
import { PlError } from '../core/errors.js'

/** An ad or a published descriptor names a provider other than the peer that signed or published it. */
export class ProviderMismatchError extends PlError {
  override name = 'ProviderMismatchError'
}

/** A descriptor's canonical bytes are over the size limit. */
export class DescriptorTooLargeError extends PlError {
  override name = 'DescriptorTooLargeError'
}

/** A peer sent more catalog ads than its token bucket allows. */
export class AdRateLimitedError extends PlError {
  override name = 'AdRateLimitedError'
}

/** unpublish/lookup of a capability this node has not published. */
export class CapabilityNotFoundError extends PlError {
  override name = 'CapabilityNotFoundError'
}

/** A find query that is malformed (missing name, unknown attr operator, bad io schema). */
export class InvalidCapabilityQueryError extends PlError {
  override name = 'InvalidCapabilityQueryError'
}

/** A descriptor to publish is not an object, or its file cannot be read or parsed. */
export class InvalidDescriptorError extends PlError {
  override name = 'InvalidDescriptorError'
}

/** The `discovery` section of the daemon config has a bad value. */
export class DiscoveryConfigError extends PlError {
  override name = 'DiscoveryConfigError'
}

/** A find was aborted through the caller's signal. */
export class FindAbortedError extends PlError {
  override name = 'FindAbortedError'
}

/** A `/pl/caps` answer that is not a list of descriptor CIDs for the asked name. */
export class InvalidCapsAnswerError extends PlError {
  override name = 'InvalidCapsAnswerError'
}

/** The catalog holds its maximum entries or bytes: a new entry is refused (gossip: Ignore, not the sender's fault). */
export class CatalogFullError extends PlError {
  override name = 'CatalogFullError'
}

/** An entry would take its provider over its catalog budget (entries or bytes): refused, the forwarder loses score. */
export class ProviderBudgetExceededError extends PlError {
  override name = 'ProviderBudgetExceededError'
}

/** Entries delivered by one peer (gossip propagation source) would exceed its catalog byte budget: refused, that peer loses score. */
export class SourceBudgetExceededError extends PlError {
  override name = 'SourceBudgetExceededError'
}

/** A `/caps/find` page cursor that this node did not issue or cannot read. */
export class InvalidCursorError extends PlError {
  override name = 'InvalidCursorError'
}

/** A `/pl/catalog-sync/1.0.0` request that is not `{after?: cursor, limit?: 1..128}` (answered REJECTED, counted). */
export class CatalogSyncRequestError extends PlError {
  override name = 'CatalogSyncRequestError'
}

/** A peer asks for `/pl/catalog-sync/1.0.0` pages faster than this node serves them (answered REJECTED, counted). */
export class CatalogSyncRateLimitedError extends PlError {
  override name = 'CatalogSyncRateLimitedError'
}

/** A `/pl/catalog-sync/1.0.0` answer that is not `{ads: [...], next?}` with at most the asked number of ads, or whose `next` does not move forward: the page is refused whole and the sync with that peer ends. */
export class CatalogSyncAnswerError extends PlError {
  override name = 'CatalogSyncAnswerError'
}

/** An ad in a `/pl/catalog-sync/1.0.0` answer fails a check a gossiped ad must pass (envelope, signature, provider = signer, size, CID; `details.reason`), or is a withdrawal: the page is refused whole, nothing of it merged. */
export class ForgedCatalogAdError extends PlError {
  override name = 'ForgedCatalogAdError'
}

/** An `AdvertiseCapabilitySet.v1` names the same capability twice: the message is refused (its sender loses score). */
export class DuplicateAdError extends PlError {
  override name = 'DuplicateAdError'
}

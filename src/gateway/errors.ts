/**
 * Errors of the agent gateway. Each names the HTTP status it answers with
 * (`statusCode`); the gateway's error handler uses it for 4xx statuses.
 */
import { PlError } from '../core/errors.js'

abstract class GatewayError extends PlError {
  abstract readonly statusCode: number
}

/** No `Authorization` header (or one with an unknown scheme) on a route that needs a scope. 401 */
export class MissingCredentialsError extends GatewayError {
  override name = 'MissingCredentialsError'
  readonly statusCode = 401
}

/** A bearer key that this node does not know (never created, revoked, or mistyped). 401 */
export class UnknownApiKeyError extends GatewayError {
  override name = 'UnknownApiKeyError'
  readonly statusCode = 401
}

/** A signed request from an agent whose PeerId is not registered, or whose envelope does not verify. 401 */
export class UnknownAgentError extends GatewayError {
  override name = 'UnknownAgentError'
  readonly statusCode = 401
}

/** A signed request whose envelope names another method or path than the request it came with. 400 */
export class SignedRequestMismatchError extends GatewayError {
  override name = 'SignedRequestMismatchError'
  readonly statusCode = 400
}

/** The caller is known but its key lacks the scope the route needs. 403 */
export class MissingScopeError extends GatewayError {
  override name = 'MissingScopeError'
  readonly statusCode = 403
}

/** The request's `Origin` (a browser) or `Host` is not on the gateway's allow-list. 403 */
export class OriginNotAllowedError extends GatewayError {
  override name = 'OriginNotAllowedError'
  readonly statusCode = 403
}

/** The caller's token bucket is empty; `details.retryAfterS` (and the `Retry-After` header) says when to retry. 429 */
export class RateLimitedError extends GatewayError {
  override name = 'RateLimitedError'
  readonly statusCode = 429
}

/** A request body over the gateway's body limit. 413 */
export class BodyTooLargeError extends GatewayError {
  override name = 'BodyTooLargeError'
  readonly statusCode = 413
}

/** Request headers over Node's header size limit (16 KiB), e.g. an oversized `Authorization: PL-Envelope`; refused by the HTTP parser, before any route. 431 */
export class HeaderTooLargeError extends GatewayError {
  override name = 'HeaderTooLargeError'
  readonly statusCode = 431
}

/** A request body that is not valid JSON, or has a content type the route does not take. 400 */
export class MalformedBodyError extends GatewayError {
  override name = 'MalformedBodyError'
  readonly statusCode = 400
}

/** Params, query or body do not match the route's JSON Schema (wrong types, unknown or missing fields). 400 */
export class RequestValidationError extends GatewayError {
  override name = 'RequestValidationError'
  readonly statusCode = 400
}

/** No route for this method and path. 404 */
export class RouteNotFoundError extends GatewayError {
  override name = 'RouteNotFoundError'
  readonly statusCode = 404
}

/** `pl api-key revoke` (or the control route) of a name that has no key. 404 */
export class ApiKeyNotFoundError extends GatewayError {
  override name = 'ApiKeyNotFoundError'
  readonly statusCode = 404
}

/** A key or agent with this name (or an agent with this PeerId) exists already. 409 */
export class ApiKeyExistsError extends GatewayError {
  override name = 'ApiKeyExistsError'
  readonly statusCode = 409
}

/** A key to create has a bad name, no scopes or an unknown scope, or an agent id that is not an ed25519 PeerId. 400 */
export class InvalidApiKeyError extends GatewayError {
  override name = 'InvalidApiKeyError'
  readonly statusCode = 400
}

/** estimate/deploy got neither a graph in the body nor a workflow id the registry knows (or no registry runs here). 400 */
export class NoGraphError extends GatewayError {
  override name = 'NoGraphError'
  readonly statusCode = 400
}

/** `GET /runs/:id/outputs/:step` of a step the run has not finished (or does not have). 404 */
export class StepOutputNotFoundError extends GatewayError {
  override name = 'StepOutputNotFoundError'
  readonly statusCode = 404
}

/** A route needs a service this node does not run (e.g. estimate without negotiation). 503 */
export class ServiceUnavailableError extends GatewayError {
  override name = 'ServiceUnavailableError'
  readonly statusCode = 503
}

/** A WebSocket message that is not JSON, has an unknown `op`, or misses fields. Sent back as an `error` message. */
export class InvalidSocketMessageError extends GatewayError {
  override name = 'InvalidSocketMessageError'
  readonly statusCode = 400
}

/** `execute_module` names a module the resolved workflow does not have. 404 */
export class WorkflowModuleNotFoundError extends GatewayError {
  override name = 'WorkflowModuleNotFoundError'
  readonly statusCode = 404
}

/** A plain HTTP request to the WebSocket endpoint `GET /ws`. 426 */
export class UpgradeRequiredError extends GatewayError {
  override name = 'UpgradeRequiredError'
  readonly statusCode = 426
}

/** The gateway section of the config (`api`) has an unknown key or a bad value. */
export class GatewayConfigError extends PlError {
  override name = 'GatewayConfigError'
}

/** `POST /ui/session` with a login token this node never issued, or one already exchanged. 401 */
export class InvalidLoginTokenError extends GatewayError {
  override name = 'InvalidLoginTokenError'
  readonly statusCode = 401
}

/** `POST /ui/session` with a login token past its lifetime (60 s by default). 401 */
export class LoginTokenExpiredError extends GatewayError {
  override name = 'LoginTokenExpiredError'
  readonly statusCode = 401
}

/** `/ui/` is asked for but the console's assets are not built (`npm run build` writes dist/ui). 503 */
export class ConsoleNotBuiltError extends GatewayError {
  override name = 'ConsoleNotBuiltError'
  readonly statusCode = 503
}

/** `pl ui` on a node that serves no gateway (start it with --api-listen HOST:PORT). 409 */
export class GatewayNotListeningError extends GatewayError {
  override name = 'GatewayNotListeningError'
  readonly statusCode = 409
}

/** `POST /capabilities` with a module upload that is not base64, empty, too big, or a single file not named function.mjs/js/py. 400 */
export class InvalidModuleUploadError extends GatewayError {
  override name = 'InvalidModuleUploadError'
  readonly statusCode = 400
}

/** `POST /capabilities` with a module upload that would pass the node's quota of uploaded modules (count or bytes) even after sweeping those no capability uses. 507 */
export class UploadQuotaExceededError extends GatewayError {
  override name = 'UploadQuotaExceededError'
  readonly statusCode = 507
}

/** `POST /capabilities` uploading a Python module to a gateway that does not take them (`api.publishPython` is off: Python steps have no filesystem sandbox). 403 */
export class ModuleUploadRefusedError extends GatewayError {
  override name = 'ModuleUploadRefusedError'
  readonly statusCode = 403
}

/** `POST /capabilities` with `impl.like` naming a local capability that has no module or whose module folder changed since it was published. 409 */
export class ImplNotReusableError extends GatewayError {
  override name = 'ImplNotReusableError'
  readonly statusCode = 409
}

/** `POST /capabilities` with `impl.external` of a kind or target the operator did not allow (`api.publishExternal`), or of a kind no runner serves on this node. 403 */
export class ExternalImplRefusedError extends GatewayError {
  override name = 'ExternalImplRefusedError'
  readonly statusCode = 403
}

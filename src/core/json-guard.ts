/**
 * The one guard against deeply nested JSON, for every HTTP body the node
 * takes (the control API and the gateway, all routes and content types),
 * every JSON text that arrives another way from outside (WebSocket messages
 * of the gateway's `/ws` and `/attach`, the `Authorization: PL-Envelope`
 * header) and for values parsed from other syntaxes (YAML descriptors). JSON.parse copes
 * with any nesting; the code that later walks the value (schema compilers,
 * canonical encoders, validators) recurses and would overflow the stack, so
 * the depth is checked on the text before parsing, without recursion.
 *
 * @example
 * guardJsonParser(app, 'application/json', { maxDepth: DEFAULT_MAX_JSON_DEPTH, parse: app.getDefaultJsonParser('error', 'error'), onTooDeep: (err) => { metrics.reject('api', err.name) } })
 * assertJsonDepth(text, 128, 'the io query value')
 * const frame = parseGuardedJson(data.toString('utf8'), 128, 'WebSocket message')
 * if (valueDepthOver(yamlDoc, 64)) throw new InvalidDescriptorError(...)
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { PlError } from './errors.js'

/** Deepest nesting (objects and arrays) of a JSON body the node accepts. */
export const DEFAULT_MAX_JSON_DEPTH = 128

/** A JSON body (or JSON query value, or WebSocket message) nests deeper than accepted (HTTP 400; default 128 levels). */
export class RequestTooDeepError extends PlError {
  override name = 'RequestTooDeepError'
  /** the gateway answers its typed errors with their statusCode */
  readonly statusCode = 400
}

/**
 * Nesting depth of JSON text (objects and arrays, outside strings), scanned
 * without parsing; stops counting once past `max`. The text need not be
 * valid JSON: the parser reports that afterwards.
 */
export function jsonDepth (text: string, max = Infinity): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    if (inString) {
      if (ch === 92) i++ // backslash: skip the escaped character
      else if (ch === 34) inString = false
    } else if (ch === 34) {
      inString = true
    } else if (ch === 123 || ch === 91) {
      if (++depth > deepest) {
        deepest = depth
        if (deepest > max) return deepest
      }
    } else if (ch === 125 || ch === 93) {
      depth--
    }
  }
  return deepest
}

/** Throws RequestTooDeepError when JSON text nests deeper than `max`. */
export function assertJsonDepth (text: string, max: number, what = 'JSON body'): void {
  if (jsonDepth(text, max) > max) throw new RequestTooDeepError(`${what} nests deeper than ${max} levels`, { max })
}

/**
 * JSON text from outside (a WebSocket message, a header), parsed only after
 * its depth is checked: RequestTooDeepError past `max`, SyntaxError when it
 * is not JSON (the caller maps that to its own error).
 */
export function parseGuardedJson (text: string, max: number, what = 'JSON text'): unknown {
  assertJsonDepth(text, max, what)
  return JSON.parse(text)
}

/** Whether a parsed value (objects and arrays) nests deeper than `max`; walked without recursion, stops once past `max`. */
export function valueDepthOver (value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number]
    if (v == null || typeof v !== 'object') continue
    if (d > max) return true
    for (const child of Object.values(v)) stack.push([child, d + 1])
  }
  return false
}

type ParseDone = (err: Error | null, body?: unknown) => void

export interface JsonParserGuard {
  maxDepth: number
  /** parses text that passed the depth check (e.g. `app.getDefaultJsonParser('error', 'error')`) */
  parse: (req: FastifyRequest, text: string, done: ParseDone) => void
  /** called for each body refused for its depth (count it) */
  onTooDeep?: (err: RequestTooDeepError, req: FastifyRequest) => void
}

/**
 * Sets the body parser of `contentType` on `app` (replacing Fastify's own
 * for `application/json`): the text is checked by `assertJsonDepth` before
 * `parse` sees it, so a route never receives a value nested past `maxDepth`.
 */
export function guardJsonParser (app: FastifyInstance, contentType: string, guard: JsonParserGuard): void {
  if (app.hasContentTypeParser(contentType)) app.removeContentTypeParser(contentType)
  app.addContentTypeParser(contentType, { parseAs: 'string' }, (req, body, done) => {
    const text = body as string
    try {
      assertJsonDepth(text, guard.maxDepth)
    } catch (err) {
      guard.onTooDeep?.(err as RequestTooDeepError, req)
      done(err as Error, undefined)
      return
    }
    guard.parse(req, text, done)
  })
}

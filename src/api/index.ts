/**
 * The control API: HTTP on 127.0.0.1 with a bearer token written to
 * `<data dir>/control.json`, the routes areas add to it, and the client the
 * `pl` commands use to reach the running node. The server loads fastify:
 * clients that only talk to a node import the light entries instead
 * (`client.ts`, `control-file.ts`, `errors.ts`; docs/ARCHITECTURE.md "Areas
 * and their surfaces").
 *
 * @example
 * const api = new ControlApi({ dataDir, logger })
 * api.route('GET', '/health', async () => ({ ok: true }))
 * await api.start()
 * const client = await ControlClient.fromDataDir(dataDir)
 */
export * from './errors.js'
export { CONTROL_FILE } from './control-file.js'
export { ControlClient, NEXT_CURSOR_HEADER } from './client.js'
export { ControlApi, DEFAULT_CONTROL_BODY_LIMIT, type ControlApiInit, type RouteRequest, type RouteHandler } from './control.js'

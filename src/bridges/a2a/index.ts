/**
 * The A2A bridge (Agent2Agent protocol, official @a2a-js/sdk), both ways.
 * Inbound: the gateway serves an agent card at /.well-known/agent-card.json
 * (skills = the capabilities this node brokers + "run a plan") and a
 * JSON-RPC endpoint at /a2a; a message becomes a run of this node's
 * executor and its task follows the run (input-required for human
 * decisions, artifacts = output + receipts). Outbound: an A2A agent's skill
 * published with `pl cap publish --a2a <card URL>` is served by A2aRunner
 * when this node wins an award for it. Guide: docs/BRIDGES.md § A2A.
 *
 * @example
 * const node = await PlNode.create({ dataDir, services: { ...daemonServices(config) } }) // includes a2a()
 * // inbound (client side, any A2A SDK):
 * const client = await new ClientFactory().createFromUrl('http://127.0.0.1:8080')
 * await client.sendMessage({ message: { ..., parts: [{ content: { $case: 'data', value: { capability: 'Upper', input: { text: 'hi' } } } }] } })
 */
export { a2a, A2aBridge, a2aInitFromConfig, A2A_CONFIG_KEYS, type A2aInit, type A2aComponents } from './service.js'
export { A2aRunner, outputOfParts, splitCardUrl, type A2aRunnerInit } from './runner.js'
export { agentCapability, fetchAgentCard, capabilityNameOf, checkAgentOffer, type A2aAgentOffer } from './publish.js'
export { readMessage, oneStepDag, type A2aWork } from './parts.js'
export { buildCard } from './card.js'
export { BoundedTaskStore } from './task-store.js'
export * from './errors.js'
export * from './constants.js'

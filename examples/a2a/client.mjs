// An A2A client (the official @a2a-js/sdk) calling a pl-node's gateway:
// reads the agent card, runs a capability, then a plan, streaming it.
//   PL_GATEWAY_URL=http://127.0.0.1:8080 PL_GATEWAY_KEY=plk_... node examples/a2a/client.mjs
import { randomUUID } from 'node:crypto'
import { ClientFactory, ClientFactoryOptions, JsonRpcTransportFactory } from '@a2a-js/sdk/client'
import { Role, TaskState } from '@a2a-js/sdk'

const url = process.env.PL_GATEWAY_URL ?? 'http://127.0.0.1:8080'
const key = process.env.PL_GATEWAY_KEY
// the card's security scheme: the gateway's API keys as bearer tokens
const fetchImpl = async (input, init = {}) => {
  const headers = new Headers(init.headers)
  headers.set('authorization', `Bearer ${key}`)
  return await fetch(input, { ...init, headers })
}
const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, { transports: [new JsonRpcTransportFactory({ fetchImpl })] }))
const client = await factory.createFromUrl(url) // GET /.well-known/agent-card.json

console.log('skills:', (await client.getAgentCard()).skills.map(s => s.id).join(', '))
const message = (value) => ({ message: { messageId: randomUUID(), role: Role.ROLE_USER, parts: [{ content: { $case: 'data', value } }] } })

// {capability, input}: a one-step negotiated run; the output and the signed receipts are artifacts
const task = await client.sendMessage(message({ capability: 'FetchSections', input: { doc: '## One\nfirst\n## Two\nsecond\n' } }))
console.log(TaskState[task.status.state], JSON.stringify(task.artifacts.find(a => a.artifactId === 'output').parts[0].content.value))
console.log('receipts root:', task.artifacts.find(a => a.artifactId === 'receipts')?.parts[0].content.value.root)

// {plan}: a DSL run, streamed (message/stream)
const plan = 'goal: Sections\ninputs:\n  doc: "## A\\nx\\n"\nplan:\n  - step: FetchSections(doc)\n'
for await (const ev of client.sendMessageStream(message({ plan }))) {
  const p = ev.payload
  if (p.$case === 'statusUpdate') console.log('status', TaskState[p.value.status.state])
  if (p.$case === 'artifactUpdate') console.log('artifact', p.value.artifact.artifactId)
}

/**
 * The agent card this node shows A2A clients: one skill per capability it
 * can broker (its own and, unless configured otherwise, those in its
 * catalog), one "run a plan" skill, and the gateway's API keys as a bearer
 * security scheme. Built per request from the node's current view of the
 * mesh, so a capability heard a second ago is already a skill.
 */
import type { AgentCard, AgentSkill } from '@a2a-js/sdk'
import { duplicateInterfacesForLegacy } from '@a2a-js/sdk/compat/v0_3'
import type { CapabilityDescriptor } from '../../discovery/types.js'
import { CALLABLE_NAME } from './parts.js'
import { A2A_RPC_PATH, PLAN_SKILL_ID } from './constants.js'

export interface CardInit {
  /** `http://host:port` the client reached the gateway at */
  base: string
  name: string
  description: string
  version: string
  /** the capabilities to list as skills, name → descriptor (the newest seen) */
  capabilities: Map<string, CapabilityDescriptor>
  /** capability text messages go to */
  defaultCapability?: string
  maxSkills: number
}

const JSON_MODE = 'application/json'
const TEXT_MODE = 'text/plain'

function skillOf (d: CapabilityDescriptor, isDefault: boolean): AgentSkill {
  const attrs = Object.keys(d.attrs ?? {}).slice(0, 8)
  return {
    id: d.name,
    name: d.name,
    description: `${d.description ?? `Capability ${d.name}@${d.version} of the Pervasive.link mesh`}. Send a data part {"capability": "${d.name}", "input": {...}}${isDefault ? ' or a text part' : ''}; the output is the artifact "output", the signed receipts the artifact "receipts".`,
    tags: ['pl', 'capability', ...attrs],
    examples: [JSON.stringify({ capability: d.name, input: {} })],
    inputModes: isDefault ? [JSON_MODE, TEXT_MODE] : [JSON_MODE],
    outputModes: [JSON_MODE],
    securityRequirements: []
  }
}

const planSkill: AgentSkill = {
  id: PLAN_SKILL_ID,
  name: 'Run a plan',
  description: 'Runs a DSL plan (YAML: goal, inputs, plan) on the mesh: each step is negotiated with the providers of its capability. Send a data part {"plan": "<DSL YAML>", "input": {...}}. A step that asks a human makes the task input-required: answer with the next message on the task.',
  tags: ['pl', 'plan', 'dsl', 'workflow'],
  examples: [JSON.stringify({ plan: 'goal: Shout\ninputs:\n  text: hello\nplan:\n  - step: Upper(text)\n', input: { text: 'mesh' } })],
  inputModes: [JSON_MODE],
  outputModes: [JSON_MODE],
  securityRequirements: []
}

/** The card (SDK object form; `AgentCard.toJSON` gives the wire JSON). */
export function buildCard (init: CardInit): AgentCard {
  const names = [...init.capabilities.keys()].filter(n => CALLABLE_NAME.test(n)).sort().slice(0, init.maxSkills)
  const skills = names.map(n => skillOf(init.capabilities.get(n) as CapabilityDescriptor, n === init.defaultCapability))
  return {
    name: init.name,
    description: init.description,
    supportedInterfaces: duplicateInterfacesForLegacy([{ url: `${init.base}${A2A_RPC_PATH}`, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' }], ['JSONRPC']),
    provider: { url: 'https://pervasive.link', organization: 'Pervasive.link mesh node' },
    version: init.version,
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {
      apiKey: { scheme: { $case: 'httpAuthSecurityScheme', value: { description: 'an API key of this node\'s gateway with the "submit" scope (pl api-key create --scopes read,submit)', scheme: 'Bearer', bearerFormat: 'plk_…' } } }
    },
    securityRequirements: [{ schemes: { apiKey: { list: [] } } }],
    defaultInputModes: [JSON_MODE, ...(init.defaultCapability != null ? [TEXT_MODE] : [])],
    defaultOutputModes: [JSON_MODE],
    skills: [...skills, planSkill],
    signatures: []
  }
}

/**
 * `pl cap publish --a2a <agent card URL> [--skill id]` and its config
 * equivalent (`services.a2a.agents`): reads the agent card with the SDK's
 * card resolver and makes one Capability.v1 for the chosen skill, bound to
 * the external implementation `{kind: 'a2a', target: <card URL>, options:
 * {skill}}` that A2aRunner serves.
 */
import { DefaultAgentCardResolver } from '@a2a-js/sdk/client'
import type { AgentCard } from '@a2a-js/sdk'
import type { CapabilityDescriptorInput, ImplRef } from '../../discovery/types.js'
import { A2aAgentUnavailableError, A2aConfigError } from './errors.js'
import { splitCardUrl } from './runner.js'
import { A2A_IMPL_KIND, DEFAULT_CARD_TIMEOUT_MS } from './constants.js'

/** One remote agent skill to publish (`services.a2a.agents[]`). */
export interface A2aAgentOffer {
  /** agent card URL, e.g. https://agent.example/.well-known/agent-card.json */
  card: string
  /** skill id; @default the card's only (or first) skill */
  skill?: string
  /** capability name; @default the skill id, made a plain name */
  name?: string
  price?: number
  /** wall limit of a call, ms */
  wallMs?: number
}

export const A2A_AGENT_KEYS = ['card', 'skill', 'name', 'price', 'wallMs']

/** A skill id as a capability name plans can call (letters, digits, _). */
export function capabilityNameOf (skill: string): string {
  const name = skill.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 128)
  return /^[A-Za-z]/.test(name) ? name : `a2a_${name}`.slice(0, 128)
}

export async function fetchAgentCard (url: string, options: { signal?: AbortSignal, fetchImpl?: typeof fetch } = {}): Promise<AgentCard> {
  const { base, path } = splitCardUrl(url)
  const signal = AbortSignal.any([...(options.signal != null ? [options.signal] : []), AbortSignal.timeout(DEFAULT_CARD_TIMEOUT_MS)])
  const fetchImpl = options.fetchImpl ?? fetch
  const resolver = new DefaultAgentCardResolver({ fetchImpl: async (input, init) => await fetchImpl(input, { ...init, signal }), legacyCompat: { enabled: true } })
  try {
    return await resolver.resolve(base, path)
  } catch (err) {
    throw new A2aAgentUnavailableError(`cannot read the agent card at ${url}: ${(err as Error).message}`, { target: url }, true)
  }
}

/** The descriptor and impl that publish `offer.skill` of the agent at `offer.card`. */
export async function agentCapability (offer: A2aAgentOffer, options: { signal?: AbortSignal, fetchImpl?: typeof fetch } = {}): Promise<{ descriptor: CapabilityDescriptorInput, impl: ImplRef }> {
  const card = await fetchAgentCard(offer.card, options)
  const skills = card.skills ?? []
  const skill = offer.skill != null ? skills.find(s => s.id === offer.skill) : skills[0]
  if (skill == null) {
    throw new A2aConfigError(offer.skill != null
      ? `agent ${card.name} (${offer.card}) has no skill "${offer.skill}" (skills: ${skills.map(s => s.id).join(', ') || 'none'})`
      : `agent ${card.name} (${offer.card}) lists no skill`, { card: offer.card })
  }
  const descriptor: CapabilityDescriptorInput = {
    name: offer.name ?? capabilityNameOf(skill.id),
    version: /^\d+\.\d+\.\d+/.test(card.version) ? card.version.slice(0, 64) : '1.0.0',
    description: `${skill.description !== '' ? skill.description : skill.name} (A2A agent ${card.name}, skill ${skill.id})`.slice(0, 2000),
    io: { input: { type: 'object' }, output: {} },
    ...(offer.price != null ? { price: offer.price } : {}),
    ...(offer.wallMs != null ? { limits: { wall_ms: offer.wallMs } } : {})
  }
  return { descriptor, impl: { external: { kind: A2A_IMPL_KIND, target: offer.card, options: { skill: skill.id } } } }
}

/** Checks one `services.a2a.agents` entry. */
export function checkAgentOffer (v: unknown, i: number): A2aAgentOffer {
  if (v == null || typeof v !== 'object' || Array.isArray(v)) throw new A2aConfigError(`services.a2a.agents[${i}] must be a mapping {card, skill?, name?, price?, wallMs?}`)
  const o = v as Record<string, unknown>
  for (const k of Object.keys(o)) if (!A2A_AGENT_KEYS.includes(k)) throw new A2aConfigError(`services.a2a.agents[${i}]: unknown key "${k}" (known: ${A2A_AGENT_KEYS.join(', ')})`)
  if (typeof o.card !== 'string') throw new A2aConfigError(`services.a2a.agents[${i}].card must be an agent card URL`)
  splitCardUrl(o.card)
  for (const k of ['skill', 'name']) if (o[k] != null && typeof o[k] !== 'string') throw new A2aConfigError(`services.a2a.agents[${i}].${k} must be a string`)
  for (const k of ['price', 'wallMs']) if (o[k] != null && !(typeof o[k] === 'number' && o[k] >= 0)) throw new A2aConfigError(`services.a2a.agents[${i}].${k} must be a number >= 0`)
  return o as unknown as A2aAgentOffer
}

/**
 * Gossipsub scores a topic only when it has topic score parameters; without
 * them an invalid message costs its sender nothing. This registers
 * parameters for `pl/v1/catalog` that count only invalid deliveries (P4:
 * count² × weight, decaying each second), so a peer whose ads the validator
 * rejects (forged, mismatched, oversized, flooding, over its catalog budget)
 * loses score and, past the node's graylist threshold, is ignored. The count
 * decays slowly (1 % left after 5 minutes): a flooder that stops does not
 * get its score back within seconds and flood again. Delivery-rate terms stay off: a
 * quiet catalog must not penalise honest peers. Existing parameters for the
 * topic (set in the libp2p config) win.
 */
import { createTopicScoreParams } from '@libp2p/gossipsub/score'
import type { GossipSub } from '@libp2p/gossipsub'

/** @default -1 per invalid message, squared (gossipsub's default P4 weight) */
export const INVALID_AD_WEIGHT = -1

/** Decay of the invalid-ad count per decay interval (1 s): 0.985^300 ≈ 1 % after 5 minutes. */
export const INVALID_AD_DECAY = 0.985

/** Returns true when it registered the parameters. */
export function scoreTopic (pubsub: GossipSub, topic: string, invalidWeight = INVALID_AD_WEIGHT): boolean {
  const params = (pubsub as unknown as { score?: { params?: { topics?: Record<string, unknown> } } }).score?.params
  if (params?.topics == null || params.topics[topic] != null) return false
  params.topics[topic] = createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0,
    firstMessageDeliveriesWeight: 0,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: invalidWeight,
    invalidMessageDeliveriesDecay: INVALID_AD_DECAY
  })
  return true
}

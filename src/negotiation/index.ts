/**
 * Contract-net negotiation and remote execution. A node that needs a
 * capability it lacks finds providers, sends each a signed CallForProposal
 * (/pl/negotiate/1.0.0), ranks the Bids with the plan's `select` weights
 * under its policies, awards the best (keeping the rest as backups), has the
 * step run on the winner (/pl/exec/1.0.0), checks the Result and the
 * provider-signed receipt, countersigns it, and fails over to a backup when
 * the winner fails. Why each step went where it went is kept as an award
 * explanation.
 *
 * @example
 * const node = await PlNode.create({ dataDir, services: {
 *   discovery: discovery(),
 *   negotiation: negotiation({ runStep: runModule })   // runModule from src/exec
 * } })
 * await node.start()
 * const remote = node.service<Negotiation>('negotiation').runner   // a StepRunner for the executor
 * const why = await node.service<Negotiation>('negotiation').explanation(runId, 'summarize[0]')
 */
export * from './constants.js'
export * from './errors.js'
export * from './types.js'
export { negotiateProtocol, execProtocol, type NegotiateRequest, type NegotiateResponse, type ExecRequest, type ExecResponse, type ExecProgress } from './wire.js'
export { defaultBidStrategy, type DefaultStrategyInit } from './strategy.js'
export { scoreBids, attrValue, type Scorable, type Scored, type ScoreTerm } from './scoring.js'
export { policyResolver, resolvePolicies, bidViolation, peerExclusion, type PolicyDoc, type PolicyResolver, type EffectivePolicy } from './policy.js'
export { ExplanationStore, summarize, type StepExplanation, type BidExplanation, type AnswerExplanation, type AttemptExplanation } from './explanation.js'
export { Provider, type ProviderInit, type ProviderComponents } from './provider.js'
export { RemoteRunner, cfpConstraints, type RemoteRunnerInit, type RemoteRunnerComponents } from './remote-runner.js'
export { CfpRound, judgeBid, type BidJudge, type RankedBid, type OpenCallPort } from './round.js'
export { learnAddrs } from './addrs.js'
export { mapBounded } from '../core/index.js'
export { PeerQuarantine, type QuarantineInit, type QuarantineEntry, type QuarantineReason } from './quarantine.js'
export { cfpTopic, CFP_TOPIC_PREFIX, OpenCallCollector, OpenCallListener, type OpenAnswer } from './open-calls.js'
export { Negotiation, negotiation, localFromDiscovery, type NegotiationInit, type NegotiationComponents, type NegotiationServices, type DiscoveryLike } from './service.js'

/**
 * The A2A agent executor of the inbound bridge: an A2A task is a run of this
 * node's executor. A new task submits the run the route read from the
 * message (src/bridges/a2a/parts.ts) and follows the run's events:
 *
 *   run submitted                  → task submitted, then working
 *   pl:run:waiting-human           → input-required (the question and its choices);
 *                                    the next message on the task is the answer (executor.decide)
 *   pl:run:finished                → artifacts `output` (the run's output) and `receipts`
 *                                    (the receipts export), then completed
 *   pl:run:failed                  → failed (canceled when the run was cancelled)
 *
 * Nothing here decides anything about the work: the executor, negotiation
 * and receipts do, as for a run submitted through the gateway's own routes.
 */
import { randomUUID } from 'node:crypto'
import { AgentEvent, type AgentExecutor, type ExecutionEventBus, type RequestContext } from '@a2a-js/sdk/server'
import { Role, TaskState, type Message, type Part } from '@a2a-js/sdk'
import type { Executor } from '../../exec/index.js'
import type { ExecEvent } from '../../exec/types.js'
import type { Logger } from '../../core/logger.js'
import type { A2aWork } from './parts.js'
import { REQUEST_STATE_KEY } from './constants.js'

/** What the bridge keeps per task: the run behind it and how far its events were read. */
interface TaskLink {
  run: string
  contextId: string
  /** next event sequence number to read */
  since: number
  /** the step whose question is pending (input-required) */
  waiting?: string
  /** an execute() call is following the run and publishes its end */
  following: boolean
  ended: boolean
}

export interface PlAgentDeps {
  executor: Executor
  logger: Logger
  /** the run's receipts export, when this node keeps receipts */
  receipts?: (run: string) => Promise<unknown>
  /** records who started a run (the gateway's requester of record) */
  requester?: (run: string, principal: string) => Promise<void>
  maxTasks: number
  /** aborted when the bridge stops: followers end their tasks failed */
  shutdown: AbortSignal
}

export function textPart (text: string): Part {
  return { content: { $case: 'text', value: text }, metadata: {}, filename: '', mediaType: 'text/plain' }
}

export function dataPart (value: unknown): Part {
  return { content: { $case: 'data', value }, metadata: {}, filename: '', mediaType: 'application/json' }
}

function agentMessage (taskId: string, contextId: string, parts: Part[]): Message {
  return { messageId: randomUUID(), contextId, taskId, role: Role.ROLE_AGENT, parts, metadata: {}, extensions: [], referenceTaskIds: [] }
}

type Outcome = 'waiting' | 'ended'

export class PlAgentExecutor implements AgentExecutor {
  private readonly links = new Map<string, TaskLink>()

  constructor (private readonly deps: PlAgentDeps) {}

  /** Tasks this bridge follows now (for status and tests). */
  get tasks (): number {
    return this.links.size
  }

  /** The run behind a task. */
  runOf (taskId: string): string | undefined {
    return this.links.get(taskId)?.run
  }

  execute = async (rc: RequestContext, bus: ExecutionEventBus): Promise<void> => {
    const work = rc.context.state.get(REQUEST_STATE_KEY) as A2aWork | undefined
    if (work == null) throw new TypeError('an A2A message reached the agent executor without going through the bridge route')
    if (rc.task != null) {
      await this.answer(rc, bus, work)
      return
    }
    if (work.kind !== 'run') throw new TypeError('a new task needs a run request')
    const runId = await this.deps.executor.submit(work.dag, work.input)
    const principal = rc.context.user?.userName
    if (principal != null) await this.deps.requester?.(runId, principal).catch(() => {})
    const link: TaskLink = { run: runId, contextId: rc.contextId, since: 0, following: true, ended: false }
    this.remember(rc.taskId, link)
    this.deps.logger.info({ task: rc.taskId, run: runId, what: work.what }, 'a2a task started a run')
    const meta = { pl: { run: runId, what: work.what } }
    bus.publish(AgentEvent.task({
      id: rc.taskId,
      contextId: rc.contextId,
      status: { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: new Date().toISOString() },
      artifacts: [],
      history: [rc.userMessage],
      metadata: meta
    }))
    bus.publish(AgentEvent.statusUpdate({ taskId: rc.taskId, contextId: rc.contextId, status: { state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp: new Date().toISOString() }, metadata: meta }))
    await this.follow(rc.taskId, link, bus)
  }

  cancelTask = async (taskId: string, bus: ExecutionEventBus): Promise<void> => {
    const link = this.links.get(taskId)
    if (link == null || link.ended) return
    try {
      await this.deps.executor.cancel(link.run)
    } catch (err) {
      this.deps.logger.debug({ task: taskId, run: link.run, err: (err as Error).message }, 'a2a cancel: run not cancellable')
    }
    // a follower publishes the end when the run's failure event arrives; a task waiting for input has none
    if (!link.following) this.end(taskId, link, bus, TaskState.TASK_STATE_CANCELED, [textPart(`run ${link.run} was cancelled`)])
  }

  /** A message on an existing task: the answer to its pending question. */
  private async answer (rc: RequestContext, bus: ExecutionEventBus, work: A2aWork): Promise<void> {
    const link = this.links.get(rc.taskId)
    const task = rc.task
    if (task == null) return
    const again = (state: TaskState, parts: Part[]): void => {
      bus.publish(AgentEvent.task(task))
      bus.publish(AgentEvent.statusUpdate({ taskId: task.id, contextId: task.contextId, status: { state, message: agentMessage(task.id, task.contextId, parts), timestamp: new Date().toISOString() }, metadata: {} }))
    }
    if (link == null || link.ended || link.waiting == null || work.kind !== 'answer') {
      again(task.status?.state ?? TaskState.TASK_STATE_FAILED, [textPart('this task is not waiting for input')])
      return
    }
    const step = link.waiting
    bus.publish(AgentEvent.task(task))
    link.following = true
    // listen before deciding: the run continues at once
    const events = this.listen(link)
    try {
      await this.deps.executor.decide(link.run, step, work.choice)
    } catch (err) {
      events.close()
      link.following = false
      const e = err as Error
      again(TaskState.TASK_STATE_INPUT_REQUIRED, [textPart(`${e.name}: ${e.message}`), dataPart({ step, error: e.name })])
      return
    }
    link.waiting = undefined
    bus.publish(AgentEvent.statusUpdate({ taskId: task.id, contextId: task.contextId, status: { state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp: new Date().toISOString() }, metadata: {} }))
    await this.drain(rc.taskId, link, bus, events)
  }

  private async follow (taskId: string, link: TaskLink, bus: ExecutionEventBus): Promise<void> {
    await this.drain(taskId, link, bus, this.listen(link))
  }

  /**
   * The run's events from `link.since` on: the kept ones, then live ones.
   * (Both are read without an await in between, so none is lost or doubled.)
   */
  private listen (link: TaskLink): { next: () => Promise<{ seq: number, ev: ExecEvent } | undefined>, close: () => void } {
    const ex = this.deps.executor
    const queue: Array<{ seq: number, ev: ExecEvent }> = []
    let wake: (() => void) | undefined
    let closed = false
    const listener = (ev: ExecEvent): void => {
      if (ev.runId !== link.run) return
      queue.push({ seq: ex.events(link.run, Number.MAX_SAFE_INTEGER).next - 1, ev })
      wake?.()
    }
    const onStop = (): void => { wake?.() }
    const { events } = ex.events(link.run, link.since)
    for (const { seq, ...ev } of events) queue.push({ seq, ev })
    ex.on('event', listener)
    this.deps.shutdown.addEventListener('abort', onStop)
    const close = (): void => {
      closed = true
      ex.off('event', listener)
      this.deps.shutdown.removeEventListener('abort', onStop)
    }
    return {
      close,
      next: async () => {
        for (;;) {
          if (closed) return undefined
          const item = queue.shift()
          if (item != null) return item
          if (this.deps.shutdown.aborted) return undefined
          await new Promise<void>((resolve) => { wake = resolve })
          wake = undefined
        }
      }
    }
  }

  private async drain (taskId: string, link: TaskLink, bus: ExecutionEventBus, events: ReturnType<PlAgentExecutor['listen']>): Promise<Outcome> {
    try {
      for (;;) {
        const item = await events.next()
        if (item == null) {
          this.end(taskId, link, bus, TaskState.TASK_STATE_FAILED, [textPart('the node is stopping; the run goes on in its journal'), dataPart({ run: link.run })])
          return 'ended'
        }
        if (item.seq >= link.since) link.since = item.seq + 1
        const outcome = await this.onEvent(taskId, link, bus, item.ev)
        if (outcome != null) return outcome
      }
    } finally {
      events.close()
      link.following = false
    }
  }

  private async onEvent (taskId: string, link: TaskLink, bus: ExecutionEventBus, ev: ExecEvent): Promise<Outcome | undefined> {
    const status = (state: TaskState, parts: Part[] | undefined, metadata: Record<string, unknown> = {}): void => {
      bus.publish(AgentEvent.statusUpdate({ taskId, contextId: link.contextId, status: { state, message: parts != null ? agentMessage(taskId, link.contextId, parts) : undefined, timestamp: new Date().toISOString() }, metadata }))
    }
    switch (ev.type) {
      case 'pl:step:started':
        status(TaskState.TASK_STATE_WORKING, [textPart(`step ${ev.key} started`)], { pl: { run: link.run, step: ev.key } })
        return undefined
      case 'pl:run:waiting-human':
        link.waiting = ev.key
        status(TaskState.TASK_STATE_INPUT_REQUIRED, [textPart(ev.question), dataPart({ step: ev.key, question: ev.question, choices: ev.choices })], { pl: { run: link.run, step: ev.key } })
        return 'waiting'
      case 'pl:run:finished': {
        bus.publish(AgentEvent.artifactUpdate({ taskId, contextId: link.contextId, artifact: { artifactId: 'output', name: 'output', description: 'the run\'s output', parts: [dataPart(ev.output ?? null)], metadata: { pl: { run: link.run, outputCid: ev.outputCid } }, extensions: [] }, append: false, lastChunk: true, metadata: {} }))
        const receipts = await this.deps.receipts?.(link.run).catch(() => undefined)
        if (receipts != null) {
          bus.publish(AgentEvent.artifactUpdate({ taskId, contextId: link.contextId, artifact: { artifactId: 'receipts', name: 'receipts', description: 'the run\'s signed receipts and their root CID (verify offline: pl receipts verify)', parts: [dataPart(receipts)], metadata: {}, extensions: [] }, append: false, lastChunk: true, metadata: {} }))
        }
        this.end(taskId, link, bus, TaskState.TASK_STATE_COMPLETED, [textPart(`run ${link.run} finished`)])
        return 'ended'
      }
      case 'pl:run:failed': {
        const cancelled = ev.error.name === 'RunCancelledError'
        this.end(taskId, link, bus, cancelled ? TaskState.TASK_STATE_CANCELED : TaskState.TASK_STATE_FAILED, [textPart(`${ev.error.name}: ${ev.error.message}`), dataPart({ run: link.run, error: { name: ev.error.name, message: ev.error.message } })])
        return 'ended'
      }
      default:
        return undefined
    }
  }

  private end (taskId: string, link: TaskLink, bus: ExecutionEventBus, state: TaskState, parts: Part[]): void {
    if (link.ended) return
    link.ended = true
    bus.publish(AgentEvent.statusUpdate({ taskId, contextId: link.contextId, status: { state, message: agentMessage(taskId, link.contextId, parts), timestamp: new Date().toISOString() }, metadata: { pl: { run: link.run } } }))
  }

  /** Keeps the link; beyond `maxTasks` the oldest ended tasks are forgotten (their tasks stay readable in the task store). */
  private remember (taskId: string, link: TaskLink): void {
    this.links.set(taskId, link)
    if (this.links.size <= this.deps.maxTasks) return
    for (const [id, l] of this.links) {
      if (this.links.size <= this.deps.maxTasks) break
      if (l.ended) this.links.delete(id)
    }
  }
}

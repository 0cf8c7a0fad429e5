/**
 * The SDK's InMemoryTaskStore keeps every task for ever; a node open to A2A
 * clients must not. This store keeps two generations of it: tasks are saved
 * into the current one; once it holds `maxTasks` tasks it becomes the
 * previous one and the generation before is dropped. A task read from the
 * previous generation is copied into the current one, so a task in use
 * (waiting for input, followed) stays; one untouched for two generations is
 * forgotten (its run stays in the executor's journal). Scoping by tenant and
 * API key is the SDK's own (each generation is an InMemoryTaskStore).
 */
import { InMemoryTaskStore, type ServerCallContext, type TaskStore } from '@a2a-js/sdk/server'
import type { ListTasksRequest, ListTasksResponse, Task } from '@a2a-js/sdk'

export class BoundedTaskStore implements TaskStore {
  private current = new InMemoryTaskStore()
  private previous = new InMemoryTaskStore()
  private readonly ids = new Set<string>()

  constructor (private readonly maxTasks: number) {
    if (!(maxTasks > 0)) throw new TypeError('maxTasks must be positive')
  }

  /** Task ids in the current generation. */
  get size (): number {
    return this.ids.size
  }

  async save (task: Task, context: ServerCallContext): Promise<void> {
    if (!this.ids.has(task.id) && this.ids.size >= this.maxTasks) {
      this.previous = this.current
      this.current = new InMemoryTaskStore()
      this.ids.clear()
    }
    this.ids.add(task.id)
    await this.current.save(task, context)
  }

  async load (taskId: string, context: ServerCallContext): Promise<Task | undefined> {
    const task = await this.current.load(taskId, context)
    if (task != null) return task
    const old = await this.previous.load(taskId, context)
    if (old != null) await this.save(old, context)
    return old
  }

  /** Lists the current generation (older tasks are still readable one by one with GetTask). */
  async list (params: ListTasksRequest, context: ServerCallContext): Promise<ListTasksResponse> {
    return await this.current.list(params, context)
  }
}

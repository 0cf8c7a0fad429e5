/** Waiting for runs through a node's control API. */
import type { ControlClient } from '../../src/api/client.js'
import { waitFor } from './mesh.js'

/** Polls `GET /runs/:id` until the run succeeded, failed or was cancelled; returns that view. */
export async function finished (client: ControlClient, runId: string, timeoutMs = 120_000): Promise<any> {
  let view: any
  await waitFor(async () => {
    view = await client.request('GET', `/runs/${runId}`).catch(() => undefined)
    return view != null && ['succeeded', 'failed', 'cancelled'].includes(view.run.state)
  }, timeoutMs, `run ${runId} finished`)
  return view
}

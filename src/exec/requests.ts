/**
 * What a running module may ask of its host, served the same way for JS
 * workers and Python processes (only the transport differs): addon calls
 * (`context.addons.*`) and human questions (`context.human.ask`).
 */
import { AddonNotConfiguredError } from './errors.js'
import type { Stopwatch } from './limits.js'
import type { AddonKind, HumanQuestion, ModuleCallOptions } from './types.js'

export async function serveAddonCall (options: ModuleCallOptions, what: string, kind: AddonKind, name: string, data: unknown): Promise<unknown> {
  if (options.addon == null) throw new AddonNotConfiguredError(`no addons are available to ${what} (it called ${kind} '${name}')`, { kind, name })
  return await options.addon(kind, name, data)
}

/**
 * Wall time spent waiting for the answer does not count: the stopwatch is
 * paused meanwhile and resumed afterwards while `stillRunning()` holds.
 */
export async function serveQuestion (options: ModuleCallOptions, what: string, question: HumanQuestion, stopwatch: Stopwatch, stillRunning: () => boolean): Promise<string> {
  if (options.ask == null) throw new AddonNotConfiguredError(`${what} asked a human question, but this caller takes no decisions`, { kind: 'human' })
  stopwatch.pause()
  try {
    return await options.ask(question)
  } finally {
    if (stillRunning()) stopwatch.resume()
  }
}

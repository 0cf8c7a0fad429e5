// SlowEcho (test capability): appends a line to `input.marker` when it starts
// (so a test can see which execution is under way and count executions), waits
// `input.ms` (honouring the abort signal), and echoes `input.x`.
import { appendFileSync } from 'node:fs'

export default class SlowEcho {
  async eval (parameters, inputData, context) {
    if (typeof inputData.marker === 'string') appendFileSync(inputData.marker, `${String(inputData.tag ?? 'step')} ${process.pid}\n`)
    const ms = Number(inputData.ms ?? 0)
    await new Promise((resolve, reject) => {
      const t = setTimeout(resolve, ms)
      context?.signal?.addEventListener('abort', () => { clearTimeout(t); reject(new Error('aborted')) }, { once: true })
    })
    return { x: inputData.x ?? null, tag: inputData.tag ?? null }
  }
}

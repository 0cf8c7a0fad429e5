import { useEffect, useState } from 'preact/hooks'
import { api } from './api.js'

/** GETs `path` now and every `everyMs` while the page shows; `{data, error}`. */
export function usePoll<T> (path: string | null, everyMs: number, deps: unknown[] = []): { data?: T, error?: unknown, reload: () => void } {
  const [data, setData] = useState<T>()
  const [error, setError] = useState<unknown>()
  const [tick, setTick] = useState(0)
  useEffect(() => {
    if (path == null) return
    let stop = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const load = async (): Promise<void> => {
      try {
        const d = await api<T>('GET', path)
        if (!stop) { setData(d); setError(undefined) }
      } catch (err) {
        if (!stop) setError(err)
      }
      if (!stop && everyMs > 0) timer = setTimeout(() => { void load() }, everyMs)
    }
    void load()
    return () => { stop = true; clearTimeout(timer) }
  }, [path, everyMs, tick, ...deps])
  return { data, error, reload: () => { setTick(t => t + 1) } }
}

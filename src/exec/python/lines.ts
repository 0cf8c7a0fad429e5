/**
 * Newline-delimited reading with a cap on the line length. readline keeps an
 * unfinished line in one string without bound: a module printing without
 * newlines (a `\r` progress bar, a huge blob) would grow it until V8 throws
 * inside a stream handler and the node dies. Here a line over `maxBytes` is
 * cut: `onLine` gets its first `maxBytes` bytes (with `truncated: true`), the
 * rest up to the next newline is dropped, and `onOverflow` is told once per
 * line.
 */
import type { Readable } from 'node:stream'

export interface LineReaderInit {
  maxBytes: number
  onLine: (line: string, truncated: boolean) => void
  onOverflow?: (bytes: number) => void
}

export function readLines (stream: Readable, init: LineReaderInit): void {
  let parts: Buffer[] = []
  let size = 0
  let dropping = false
  let dropped = 0
  const emit = (): void => {
    if (dropping) {
      init.onLine(Buffer.concat(parts).toString('utf8'), true)
      init.onOverflow?.(size + dropped)
    } else {
      init.onLine(Buffer.concat(parts).toString('utf8'), false)
    }
    parts = []
    size = 0
    dropping = false
    dropped = 0
  }
  stream.on('data', (chunk: Buffer) => {
    let start = 0
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start)
      const end = nl === -1 ? chunk.length : nl
      const piece = chunk.subarray(start, end)
      if (dropping) {
        dropped += piece.length
      } else if (size + piece.length > init.maxBytes) {
        parts.push(piece.subarray(0, init.maxBytes - size))
        dropped += piece.length - (init.maxBytes - size)
        size = init.maxBytes
        dropping = true
      } else {
        parts.push(Buffer.from(piece))
        size += piece.length
      }
      if (nl === -1) break
      emit()
      start = nl + 1
    }
  })
  stream.on('end', () => { if (size > 0 || dropping) emit() })
}

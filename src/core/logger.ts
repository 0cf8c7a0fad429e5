/**
 * Structured logs (pino): pretty on a TTY, JSON lines otherwise. One child
 * logger per component with a stable `component` name; peer ids and CIDs go
 * in fields, not in the message text.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino'

export type { Logger }

export interface LoggerInit {
  /** @default process.env.PL_LOG_LEVEL ?? 'info' */
  level?: LevelWithSilent
  /** @default process.stderr.isTTY */
  pretty?: boolean
  /** file descriptor to write to @default 2 (stderr) */
  fd?: number
  base?: Record<string, unknown>
}

export function createLogger (init: LoggerInit = {}): Logger {
  const level = init.level ?? (process.env.PL_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info'
  const fd = init.fd ?? 2
  const pretty = init.pretty ?? (fd === 2 ? process.stderr.isTTY : false)
  if (pretty) {
    return pino({ level, base: init.base ?? null }, pino.transport({ target: 'pino-pretty', options: { destination: fd, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } }))
  }
  return pino({ level, base: init.base ?? null }, pino.destination({ fd, sync: true }))
}

/** A logger that drops everything (library default when none is given). */
export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}

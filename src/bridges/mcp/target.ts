/**
 * What an `impl: {external: {kind: 'mcp', target}}` names: an MCP server
 * started as a local process (`target` = its command line) or reached over
 * streamable HTTP (`target` = an http(s) URL). A command line is split into
 * an argv array here, never handed to a shell: quotes group words, a
 * backslash escapes the next character, and `$`, `*`, `;`, `|`, backticks
 * stay literal characters of the words they are in.
 *
 * @example
 * mcpTarget('node "my server.js" --stdio') // { kind: 'stdio', command: 'node', args: ['my server.js', '--stdio'] }
 * mcpTarget('http://127.0.0.1:3001/mcp')   // { kind: 'http', url: URL }
 */
import { McpTargetError } from './errors.js'

export type McpTarget = { kind: 'stdio', command: string, args: string[] } | { kind: 'http', url: URL }

/** Splits a command line into words (POSIX-like quoting, no expansion of any kind). */
export function splitArgv (line: string): string[] {
  const words: string[] = []
  let cur = ''
  let inWord = false
  let quote: '"' | "'" | undefined
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]
    if (quote != null) {
      if (ch === quote) quote = undefined
      else if (ch === '\\' && quote === '"' && i + 1 < line.length && (line[i + 1] === '"' || line[i + 1] === '\\')) cur += line[++i]
      else cur += ch
    } else if (ch === '"' || ch === "'") {
      quote = ch
      inWord = true
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i]
      inWord = true
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur)
      cur = ''
      inWord = false
    } else {
      cur += ch
      inWord = true
    }
  }
  if (quote != null) throw new McpTargetError(`unbalanced ${quote} in MCP server command: ${line}`, { target: line })
  if (inWord) words.push(cur)
  return words
}

export function mcpTarget (target: string): McpTarget {
  if (/^https?:\/\//i.test(target)) {
    try {
      return { kind: 'http', url: new URL(target) }
    } catch {
      throw new McpTargetError(`not a URL: ${target}`, { target })
    }
  }
  const argv = splitArgv(target)
  if (argv.length === 0) throw new McpTargetError('the MCP server command is empty', { target })
  return { kind: 'stdio', command: argv[0], args: argv.slice(1) }
}

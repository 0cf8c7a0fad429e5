/**
 * `pl ui`: opens the web console of the running pl-node. Asks the node
 * (control API) for a one-time login link — a token valid for 60 s that the
 * browser trades once for a session key — so no long-lived key ever goes
 * into a URL. Prints the link; with --open, starts the desktop's browser
 * through xdg-open when there is one.
 */
import { spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import type { Command } from 'commander'
import { action, printJson, resolveDataDir } from '../util.js'
import { ControlClient } from '../../api/client.js'
import { SCOPES } from '../../gateway/constants.js'

/** The first `name` on PATH, or undefined. */
export function onPath (name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue
    const file = join(dir, name)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {}
  }
  return undefined
}

export function register (program: Command): void {
  program.command('ui')
    .description('Open the web console of the running node: prints a one-time login link (valid 60 s, usable once) to its gateway\'s /ui/. Needs the gateway (pl-node start --api-listen HOST:PORT).')
    .option('-d, --data-dir <dir>', 'data directory (env PL_DATA_DIR)')
    .option('--scopes <list>', `scopes of the browser session (${SCOPES.join(', ')})`, 'admin')
    .option('--open', 'also open the link in the desktop browser (xdg-open)')
    .option('--json', 'print {url, expires, scopes} as JSON')
    .action(action(async (opts: { dataDir?: string, scopes: string, open?: boolean, json?: boolean }) => {
      const client = await ControlClient.fromDataDir(resolveDataDir(opts.dataDir))
      const scopes = opts.scopes.split(',').map(s => s.trim()).filter(s => s !== '')
      const link = await client.request<{ url: string, expires: number, scopes: string[] }>('POST', '/ui/login-tokens', { scopes })
      if (opts.json === true) printJson(link)
      else process.stdout.write(`${link.url}\n`)
      process.stderr.write(`one-time login link for a ${link.scopes.join(',')} session; it expires at ${new Date(link.expires).toISOString()} and works once\n`)
      if (opts.open === true) {
        const opener = onPath('xdg-open')
        if (opener == null) {
          process.stderr.write('--open: no xdg-open on PATH; open the link above in a browser\n')
          return
        }
        spawn(opener, [link.url], { stdio: 'ignore', detached: true }).unref()
      }
    }))
}

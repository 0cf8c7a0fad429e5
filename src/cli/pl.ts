#!/usr/bin/env node
/**
 * `pl`: the client command. Each area adds its subcommands in
 * `src/cli/commands/<area>.ts`, exporting `register(program)`; this file
 * loads them all, so areas never edit it.
 */
import './require-node.js'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Command } from 'commander'
import { VERSION } from './version.js'

export async function buildProgram (): Promise<Command> {
  const program = new Command('pl')
    .description('Client for the Pervasive.link mesh: workflows, runs, capabilities, receipts and specs.\nCommands that talk to a running pl-node find it through --data-dir (or PL_DATA_DIR).')
    .version(VERSION, '-V, --version')
    // program options only before the command: `pl spec from-plan --version 1.0.0` is the command's own option
    .enablePositionalOptions()
    .showHelpAfterError()
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'commands')
  for (const file of readdirSync(dir).filter(f => f.endsWith('.js')).sort()) {
    const mod = await import(pathToFileURL(join(dir, file)).href) as { register?: (p: Command) => void }
    mod.register?.(program)
  }
  return program
}

// `pl ... | head`: the reader went away; that is not an error of ours
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

const program = await buildProgram()
await program.parseAsync(process.argv)

/**
 * `pl-node doctor`: reports what this machine lets the node enforce (see
 * src/cli/doctor.ts for the checks). Exit code 1 when a check fails.
 *
 * @example
 * pl-node doctor
 * pl-node doctor --json
 */
import type { Command } from 'commander'
import { formatDoctor, runDoctor } from '../doctor.js'
import { action, printJson } from '../util.js'

export function register (program: Command): void {
  program.command('doctor')
    .description('Check what this machine lets a node enforce: PID namespaces (steps die whole), network namespaces (network: none), Node\'s permission model (sandboxed JS modules). Exit code 1 when a check fails.')
    .option('--json', 'print JSON')
    .action(action(async (opts: { json?: boolean }) => {
      const report = await runDoctor()
      if (opts.json === true) printJson(report)
      else process.stdout.write(formatDoctor(report))
      if (!report.ok) process.exitCode = 1
    }))
}

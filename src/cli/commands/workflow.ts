/**
 * `pl workflow validate|compile|pack|unpack`: the workflow front ends from
 * the command line. Pure and offline: nothing here needs a running pl-node.
 *
 *   pl workflow validate <folder|workflow.json|bundle.zip|plan.yaml>   → ok <dag cid> <n> steps
 *   pl workflow compile <path> [--format json|dot]                     → the Task DAG
 *   pl workflow pack <folder> [-o out.zip]                             → CID of the ZIP bytes
 *   pl workflow unpack <bundle.zip> <folder>
 */
import { readFile, writeFile } from 'node:fs/promises'
import { basename, resolve } from 'node:path'
import { InvalidArgumentError, type Command } from 'commander'
import { action } from '../util.js'
import type * as WorkflowModule from '../../workflow/index.js'
import { spin } from '../progress.js'
import type { LoadedWorkflow } from '../../workflow/index.js'

// the workflow modules load when a command runs: registering the commands (`pl --help`) stays light
const workflows = async (): Promise<typeof WorkflowModule> => await import('../../workflow/index.js')

async function withWorkflow (path: string, fn: (wf: LoadedWorkflow) => void): Promise<void> {
  const wf = await (await workflows()).loadWorkflow(path)
  try {
    fn(wf)
  } finally {
    await wf.cleanup()
  }
}

function format (value: string): 'json' | 'dot' {
  if (value !== 'json' && value !== 'dot') throw new InvalidArgumentError('expected json or dot')
  return value
}

export function register (program: Command): void {
  const wf = program.command('workflow').description('Validate, compile, pack and unpack workflows (workflow.json bundles and DSL plans)')

  wf.command('validate')
    .description('Check a workflow folder, workflow.json, .zip bundle or .yaml plan; prints "ok <dag cid> <n> steps"')
    .argument('<path>', 'folder with workflow.json, a workflow.json file, a .zip bundle or a .yaml/.yml plan')
    .action(action(async (path: string) => {
      const { dagCid } = await workflows()
      await withWorkflow(path, ({ dag }) => {
        const n = Object.keys(dag.steps).length
        process.stdout.write(`ok ${dagCid(dag)} ${n} step${n === 1 ? '' : 's'}\n`)
      })
    }))

  wf.command('compile')
    .description('Print the Task DAG of a workflow: dag-json (default) or Graphviz dot')
    .argument('<path>', 'folder with workflow.json, a workflow.json file, a .zip bundle or a .yaml/.yml plan')
    .option('--format <format>', 'json or dot', format, 'json')
    .action(action(async (path: string, opts: { format: 'json' | 'dot' }) => {
      const { toDot, dagToJson } = await workflows()
      await withWorkflow(path, ({ dag }) => {
        process.stdout.write(opts.format === 'dot' ? toDot(dag) : dagToJson(dag, { pretty: true }))
      })
    }))

  wf.command('pack')
    .description('Pack a workflow folder into a deterministic ZIP bundle; prints the CID of the ZIP bytes')
    .argument('<dir>', 'folder with workflow.json and module_<key>/ folders')
    .option('-o, --out <file>', 'where to write the ZIP (default: <folder name>.zip)')
    .action(action(async (dir: string, opts: { out?: string }) => {
      const [{ packBundle }, { cidOfBytes, RAW }] = await Promise.all([workflows(), import('../../core/encoding.js')])
      const zip = await spin(process.stderr, `packing ${dir}`, async () => await packBundle(dir), process.stderr.isTTY === true && process.env.TERM !== 'dumb')
      const out = resolve(opts.out ?? `${basename(resolve(dir))}.zip`)
      await writeFile(out, zip)
      process.stdout.write(`${cidOfBytes(zip, RAW).toString()}\n`)
    }))

  wf.command('unpack')
    .description('Unpack a bundle into a new or empty folder, refusing unsafe entries and oversized content')
    .argument('<zip>', 'the bundle')
    .argument('<dir>', 'target folder (created; must be empty if it exists)')
    .action(action(async (zip: string, dir: string) => {
      const { unpackBundle } = await workflows()
      await unpackBundle(new Uint8Array(await readFile(zip)), dir)
      process.stdout.write(`unpacked into ${resolve(dir)}\n`)
    }))
}

/**
 * `pl spec ...`: the spec compiler.
 *   pl spec id <schema.json> [--check]
 *   pl spec compile <schema.json|dir...> --out <dir> [--lang ts,py,go]
 *   pl spec scaffold <spec.json> --lang ts|py|go [--out dir] [--force] [--provider]   (go: --provider only)
 *   pl spec stub <spec.json>
 *   pl spec from-plan <plan.yaml> --name N --version V --cap <descriptor|spec...> [--out spec.json]
 * `$ref`s by CID resolve from --schemas folders, the node's store
 * (--data-dir / PL_DATA_DIR, through the running daemon if there is one) and
 * protocols/schemas.
 */
import type { Command } from 'commander'
import type * as CompilerModule from '../../spec/compiler/index.js'
import { resolve } from 'node:path'
import { action, printJson } from '../util.js'
import type { LoadOptions } from '../../spec/compiler/index.js'
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// the compiler loads when a command runs: registering the commands (`pl --help`) stays light
const compiler = async (): Promise<typeof CompilerModule> => await import('../../spec/compiler/index.js')

interface SourceFlags { schemas?: string[], dataDir?: string }

/** Runs `fn` with the ref sources the flags name, closing the store afterwards. */
async function withSources<T> (flags: SourceFlags, fn: (options: LoadOptions) => Promise<T>): Promise<T> {
  const base: LoadOptions = { schemaDirs: flags.schemas ?? [] }
  // --data-dir must exist; PL_DATA_DIR is used only when it already holds a node or a store
  const fromEnv = process.env.PL_DATA_DIR
  const { dataDirSources, isDataDir } = await import('../../spec/compiler/index.js')
  const dataDir = flags.dataDir ?? (fromEnv != null && fromEnv !== '' && isDataDir(fromEnv) ? fromEnv : undefined)
  if (dataDir == null) return await fn(base)
  const src = await dataDirSources(resolve(dataDir))
  try {
    return await fn({ ...base, ...src.options })
  } finally {
    await src.close()
  }
}

function sourceOptions (cmd: Command): Command {
  return cmd
    .option('--schemas <dir...>', 'folders of schema files that $refs may name (by $id or CID)')
    .option('--data-dir <dir>', 'resolve CID $refs from this node\'s store (default: PL_DATA_DIR when set)')
}

export function register (program: Command): void {
  const spec = program.command('spec').description('Compile capability specs (JSON Schema) into validators, bindings, codecs and receipt checkers')

  sourceOptions(spec.command('id <schema>')
    .description('Print the CID of a schema (canonical dag-cbor, so formatting and key order do not change it)')
    .option('--check', 'also check the keyword subset and resolve every $ref')
    .option('--json', 'print {cid, id, title, refs} as JSON'))
    .action(action(async (schema: string, opts: SourceFlags & { check?: boolean, json?: boolean }) => {
      const { specId } = await compiler()
      const res = await withSources(opts, async (o) => await specId(schema, { ...o, check: opts.check === true }))
      if (opts.json === true) { printJson(res); return }
      process.stdout.write(res.cid + '\n')
      for (const r of res.refs ?? []) process.stdout.write(`  $ref ${r.ref} -> ${r.target} (${r.cid})\n`)
    }))

  sourceOptions(spec.command('compile <paths...>')
    .description('Generate validators, types, dag-json codecs and a receipt checker per language')
    .requiredOption('-o, --out <dir>', 'output folder')
    .option('--lang <langs>', 'comma-separated: ts,py,go', 'ts,py,go')
    .option('--package <name>', 'Python package / Go package name', 'plspec'))
    .action(action(async (paths: string[], opts: SourceFlags & { out: string, lang: string, package: string }) => {
      const { compileSchemas, parseLangs, writeGenerated } = await compiler()
      const langs = parseLangs(opts.lang)
      const { ctx, files } = await withSources(opts, async (o) => await compileSchemas(paths, { ...o, langs, pyPackage: opts.package, goPackage: opts.package }))
      const written = await writeGenerated(resolve(opts.out), files)
      process.stdout.write(`compiled ${ctx.entries.length} schemas (${ctx.capabilities.map(c => c.info.name).join(', ') || 'no capability specs'}) for ${langs.join(', ')} into ${resolve(opts.out)}\n`)
      for (const f of written) process.stdout.write(`  ${f}\n`)
    }))

  sourceOptions(spec.command('scaffold <spec>')
    .description('Write a capability module (function.mjs or function.py, class with eval) typed by the spec')
    .requiredOption('--lang <lang>', 'ts or py (go: with --provider)')
    .option('-o, --out <dir>', 'module folder (default: ./<capability name>)')
    .option('--force', 'write into a non-empty folder')
    .option('--provider', 'write a runnable attached provider (handler, main, README; py or go) instead of a module folder')
    .option('--package <name>', 'Python / Go package name of the bundled validators (default: <capability>_spec, Go: <capability>spec)'))
    .action(action(async (specPath: string, opts: SourceFlags & { lang: string, out?: string, force?: boolean, package?: string, provider?: boolean }) => {
      const { scaffold } = await compiler()
      const res = await withSources(opts, async (o) => await scaffold(specPath, { ...o, lang: opts.lang as 'ts' | 'py' | 'go', out: opts.out, force: opts.force === true, pyPackage: opts.package, provider: opts.provider === true }))
      process.stdout.write(`wrote ${res.dir}\n`)
      for (const f of res.files) process.stdout.write(`  ${f}\n`)
    }))

  sourceOptions(spec.command('stub <spec>')
    .description('Print the DSL step stub of a capability spec: its typed call signature and a plan entry')
    .option('--name <capability>', 'only this capability (when the file defines several)'))
    .action(action(async (specPath: string, opts: SourceFlags & { name?: string }) => {
      const { dslStub, createContext, loadBundle } = await compiler()
      const text = await withSources(opts, async (o) => dslStub(createContext(await loadBundle([specPath], o)), opts.name))
      process.stdout.write(text)
    }))

  sourceOptions(spec.command('from-plan <plan>')
    .description('Turn a DSL plan into a versioned capability spec (DSL → Spec): input schema from the plan\'s inputs and the steps that consume them, output schema from its last step, constraints and policies kept as the x-pl-composite annotation. Prints the spec (or writes --out) and its CID.')
    .requiredOption('--name <capability>', 'name of the new capability')
    .requiredOption('--version <version>', 'its version, e.g. 1.0.0')
    .requiredOption('--cap <files...>', 'descriptor files (capability.yaml) or capability spec files of the capabilities the plan calls')
    .option('--description <text>', 'description of the capability (default: names the plan)')
    .option('-o, --out <file>', 'write the spec here instead of printing it'))
    .action(action(async (planPath: string, opts: SourceFlags & { name: string, version: string, cap: string[], description?: string, out?: string }) => {
      const [{ ioOfDescriptor, specFromPlan, specId }, { readDocument }, { compileDsl }] = await Promise.all([compiler(), import('../../discovery/descriptor-file.js'), import('../../workflow/index.js')])
      const dag = compileDsl(await readFile(planPath, 'utf8'), { file: planPath })
      const ios = await Promise.all(opts.cap.map(async (f) => ioOfDescriptor(await readDocument(f, 'capability file'), f)))
      const derived = specFromPlan(dag, ios, { name: opts.name, version: opts.version, ...(opts.description != null ? { description: opts.description } : {}) })
      const text = JSON.stringify(derived, null, 2) + '\n'
      // the derived spec must compile like any other: check the keyword subset and every $ref before printing it
      const dir = opts.out == null ? await mkdtemp(join(tmpdir(), 'pl-from-plan-')) : undefined
      const file = opts.out != null ? resolve(opts.out) : join(dir as string, 'spec.json')
      try {
        await writeFile(file, text)
        const { cid } = await withSources(opts, async (o) => await specId(file, { ...o, check: true }))
        if (opts.out == null) process.stdout.write(text)
        process.stderr.write(`${opts.name} ${opts.version}: spec ${cid}${opts.out != null ? ` written to ${file}` : ''}\n`)
      } finally {
        if (dir != null) await rm(dir, { recursive: true, force: true })
      }
    }))
}

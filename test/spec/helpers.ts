/**
 * Shared helpers of the spec compiler tests: the compiled test set
 * (protocols/schemas + the sample capability spec + the keyword-coverage
 * schema), the shared vectors, and runners for the generated TypeScript,
 * Python and Go.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import ts from 'typescript'
import { compileSchemas, writeGenerated, type Lang } from '../../src/spec/compiler/index.js'

export const ROOT = process.cwd()
export const SCHEMAS = join(ROOT, 'protocols', 'schemas')
export const SAMPLE_SPEC = join(ROOT, 'examples', 'specs', 'Summarize.v1.json')
export const KEYWORDS = join(ROOT, 'test', 'vectors', 'schemas')
export const VECTORS = join(ROOT, 'test', 'vectors')
/** what the vectors cover */
export const TEST_SET = [SCHEMAS, SAMPLE_SPEC, KEYWORDS]

export interface Vector { schema: string, doc: unknown, valid: boolean, why: string }

export async function vectorFiles (): Promise<string[]> {
  return (await readdir(VECTORS)).filter(n => n.endsWith('.json')).sort().map(n => join(VECTORS, n))
}

export async function loadVectors (): Promise<Array<Vector & { file: string }>> {
  const out: Array<Vector & { file: string }> = []
  for (const f of await vectorFiles()) {
    for (const v of JSON.parse(await readFile(f, 'utf8')) as Vector[]) out.push({ ...v, file: f })
  }
  return out
}

/** Compiles `paths` into `outDir` for `langs`. */
export async function compileTo (outDir: string, paths: string[] = TEST_SET, langs: Lang[] = ['ts', 'py', 'go']): Promise<void> {
  const { files } = await compileSchemas(paths, { langs })
  await writeGenerated(outDir, files)
}

/** Transpiles the generated TypeScript (no type check) next to validators.js and imports index. */
export async function importGeneratedTs (tsDir: string, runDir: string): Promise<any> {
  await mkdir(runDir, { recursive: true })
  for (const name of await readdir(tsDir)) {
    const src = await readFile(join(tsDir, name), 'utf8')
    if (name.endsWith('.d.ts')) continue
    if (name.endsWith('.ts')) {
      const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
      await writeFile(join(runDir, name.replace(/\.ts$/, '.js')), js)
    } else if (name.endsWith('.js')) {
      await writeFile(join(runDir, name), src)
    }
  }
  await writeFile(join(runDir, 'package.json'), '{"type":"module"}\n')
  return await import(pathToFileURL(join(runDir, 'index.js')).href)
}

/** Type-checks the generated TypeScript under strict settings; returns the diagnostics as text. */
export function typecheckGeneratedTs (tsDir: string, files: string[]): string {
  const program = ts.createProgram(files.map(f => join(tsDir, f)), {
    strict: true,
    noImplicitOverride: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules', '@types')]
  })
  const diags = ts.getPreEmitDiagnostics(program)
  return ts.formatDiagnostics(diags, { getCanonicalFileName: f => f, getCurrentDirectory: () => tsDir, getNewLine: () => '\n' })
}

export interface ProcResult { code: number | null, stdout: string, stderr: string }

export async function run (cmd: string, args: string[], options: { cwd?: string, env?: NodeJS.ProcessEnv, input?: string } = {}): Promise<ProcResult> {
  const proc = spawn(cmd, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  proc.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  proc.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  proc.stdin.end(options.input ?? '')
  const code = await new Promise<number | null>((resolve, reject) => {
    proc.once('error', reject)
    proc.once('exit', (c) => { resolve(c) })
  })
  return { code, stdout, stderr }
}

/** Runs a Python script with the generated package `py/` on sys.path; parses stdout as JSON. */
export async function runPython (pyDir: string, script: string, input: unknown): Promise<any> {
  const res = await run('python3', ['-c', script], { env: { PYTHONPATH: pyDir, PYTHONDONTWRITEBYTECODE: '1' }, input: JSON.stringify(input) })
  if (res.code !== 0) throw new Error(`python3 failed (${String(res.code)}):\n${res.stderr}`)
  return JSON.parse(res.stdout)
}

export function goAvailable (): boolean {
  return spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0
}

export const GO_SKIP = 'go not installed: run scripts/setup-ci.sh'

/**
 * Builds and runs a Go program (`main.go` source) in a temp module that
 * imports the generated package from `goDir` through a local replace
 * (offline: GOFLAGS=-mod=mod GOPROXY=off). Parses stdout as JSON.
 */
export async function runGo (workDir: string, goDir: string, pkg: string, mainSource: string, input: unknown): Promise<any> {
  return await runGoBinary(await buildGo(workDir, goDir, pkg, mainSource), input)
}

/** Builds the program once (see runGo); returns the binary's path. */
export async function buildGo (workDir: string, goDir: string, pkg: string, mainSource: string): Promise<string> {
  await mkdir(workDir, { recursive: true })
  await writeFile(join(workDir, 'go.mod'), `module harness\n\ngo 1.19\n\nrequire ${pkg} v0.0.0\n\nreplace ${pkg} => ${goDir}\n`)
  await writeFile(join(workDir, 'main.go'), mainSource)
  const env = { GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', GO111MODULE: 'on' }
  const res = await run('go', ['build', '-o', 'harness', '.'], { cwd: workDir, env })
  if (res.code !== 0) throw new Error(`go build failed (${String(res.code)}):\n${res.stderr}`)
  return join(workDir, 'harness')
}

export async function runGoBinary (binary: string, input: unknown): Promise<any> {
  const res = await run(binary, [], { input: JSON.stringify(input) })
  if (res.code !== 0) throw new Error(`${binary} failed (${String(res.code)}):\n${res.stderr}`)
  return JSON.parse(res.stdout)
}

/** One document to validate against one compiled schema (by its label). */
export interface Case { schema: string, doc: unknown }

/** What one language made of a compiled package: compiler findings, stray output, verdicts. */
export interface LangReport {
  /** tsc diagnostics / py_compile errors / go vet output ('' when clean) */
  check: string
  /** anything the program printed besides its verdicts (injected code would show up here) */
  stray: string
  /** one verdict per case, or the error that kept the program from running */
  verdicts?: boolean[]
  error?: string
}

const GO_ENV = { GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', GO111MODULE: 'on' }

/** Splits a harness's stdout into its last line (JSON verdicts) and whatever came before. */
function verdictsOf (res: ProcResult, what: string): Pick<LangReport, 'stray' | 'verdicts' | 'error'> {
  const lines = res.stdout.trimEnd().split('\n')
  const last = lines.pop() ?? ''
  const stray = lines.join('\n')
  if (res.code !== 0) return { stray, error: `${what} exited ${String(res.code)}:\n${res.stderr}${res.stdout}` }
  try {
    return { stray, verdicts: JSON.parse(last) }
  } catch {
    return { stray, error: `${what} printed no verdicts:\n${res.stdout}\n${res.stderr}` }
  }
}

const TS_VERDICTS = `
const { isValid } = await import(process.argv[1])
let input = ''
for await (const chunk of process.stdin) input += chunk
const cases = JSON.parse(input)
console.log(JSON.stringify(cases.map(c => isValid(c.schema, c.doc))))
`

/** Type-checks the generated TypeScript (strict), then imports it in a fresh node process and validates `cases`. */
export async function checkTs (outDir: string, cases: Case[]): Promise<LangReport> {
  const tsDir = join(outDir, 'ts')
  const check = typecheckGeneratedTs(tsDir, (await readdir(tsDir)).filter(n => n.endsWith('.ts')))
  const runDir = join(outDir, 'ts-run')
  await mkdir(runDir, { recursive: true })
  for (const name of await readdir(tsDir)) {
    const src = await readFile(join(tsDir, name), 'utf8')
    if (name.endsWith('.d.ts')) continue
    if (name.endsWith('.ts')) await writeFile(join(runDir, name.replace(/\.ts$/, '.js')), ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText)
    else if (name.endsWith('.js')) await writeFile(join(runDir, name), src)
  }
  await writeFile(join(runDir, 'package.json'), '{"type":"module"}\n')
  const res = await run(process.execPath, ['--input-type=module', '-e', TS_VERDICTS, pathToFileURL(join(runDir, 'index.js')).href], { input: JSON.stringify(cases) })
  return { check, ...verdictsOf(res, 'node') }
}

const PY_VERDICTS = `
import importlib, json, sys
pkg = importlib.import_module(sys.argv[1])
cases = json.load(sys.stdin)
print(json.dumps([pkg.is_valid(c["schema"], c["doc"]) for c in cases]))
`

const PY_COMPILE = 'import py_compile, sys\nfor f in sys.argv[1:]:\n    py_compile.compile(f, cfile=f + ".checked", doraise=True)\n'

/** py_compile (warnings are errors) on every generated module, then imports the package and validates `cases`. */
export async function checkPy (outDir: string, pkg: string, cases: Case[]): Promise<LangReport> {
  const pkgDir = join(outDir, 'py', pkg)
  const files = (await readdir(pkgDir)).filter(n => n.endsWith('.py')).map(n => join(pkgDir, n))
  const env = { PYTHONDONTWRITEBYTECODE: '1' }
  const compiled = await run('python3', ['-W', 'error', '-c', PY_COMPILE, ...files], { env })
  const check = compiled.code === 0 ? '' : compiled.stderr + compiled.stdout
  const res = await run('python3', ['-c', PY_VERDICTS, pkg], { env: { ...env, PYTHONPATH: join(outDir, 'py') }, input: JSON.stringify(cases) })
  return { check, ...verdictsOf(res, 'python3') }
}

const GO_VERDICTS = (pkg: string): string => `package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	p "${pkg}"
)

func main() {
	in, _ := io.ReadAll(os.Stdin)
	var cases []struct {
		Schema string
		Doc    any
	}
	if err := json.Unmarshal(in, &cases); err != nil {
		panic(err)
	}
	out := []bool{}
	for _, c := range cases {
		out = append(out, p.IsValid(c.Schema, c.Doc))
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}
`

/** \`go vet\` on the generated package, then builds a harness that validates \`cases\` with it (offline). */
export async function checkGo (outDir: string, pkg: string, cases: Case[]): Promise<LangReport> {
  const goDir = join(outDir, 'go')
  const vet = await run('go', ['vet', './...'], { cwd: goDir, env: GO_ENV })
  const check = vet.code === 0 ? '' : vet.stderr + vet.stdout
  const work = join(outDir, 'go-run')
  let binary: string
  try {
    binary = await buildGo(work, goDir, pkg, GO_VERDICTS(pkg))
  } catch (err) {
    return { check, stray: '', error: (err as Error).message }
  }
  const res = await run(binary, [], { input: JSON.stringify(cases) })
  return { check, ...verdictsOf(res, 'go harness') }
}

/**
 * A Go program (package main, importing the generated package `plspec`)
 * that reads `{cases: [...]}` as DAG-JSON on stdin and prints one verdict a
 * case, as a JSON list: "ok", or the name of the error's type
 * (`ReceiptMismatchError`). `check` is a Go expression over `c` (the case,
 * a map[string]any) answering (value, error); `prepare` are Go statements
 * run before it in each case (building options, say).
 *
 * @example
 * await runGo(work, genGoDir, 'plspec', goReceiptChecker({ check: 'plspec.CheckReceiptsTrust(c["receipts"], c["trust"])' }), { cases })
 */
export function goReceiptChecker (options: { check: string, prepare?: string[] }): string {
  const prepare = (options.prepare ?? []).map(line => `\t\t${line}\n`).join('')
  return `package main

import (
\t"encoding/json"
\t"fmt"
\t"io"
\t"os"
\t"strings"

\t"plspec"
)

func main() {
\tin, _ := io.ReadAll(os.Stdin)
\tdoc, err := plspec.DecodeDagJSON(in)
\tif err != nil {
\t\tpanic(err)
\t}
\tout := []string{}
\tfor _, item := range doc.(map[string]any)["cases"].([]any) {
\t\tc := item.(map[string]any)
${prepare}\t\tif _, err := ${options.check}; err != nil {
\t\t\tout = append(out, strings.TrimPrefix(fmt.Sprintf("%T", err), "*plspec."))
\t\t} else {
\t\t\tout = append(out, "ok")
\t\t}
\t}
\tb, _ := json.Marshal(out)
\tfmt.Println(string(b))
}
`
}

/**
 * The Python twin of `goReceiptChecker`: reads `{cases: [...]}` as JSON on
 * stdin, runs `check` (a Python expression over the case `c`, importing the
 * generated package `plspec`) after the `prepare` statements of each case,
 * and prints the verdicts: "ok", or the exception's class name.
 */
export function pyReceiptChecker (options: { check: string, prepare?: string[] }): string {
  const prepare = (options.prepare ?? []).map(line => `    ${line}\n`).join('')
  return `
import json, sys
import plspec
out = []
for c in json.load(sys.stdin)["cases"]:
${prepare}    try:
        ${options.check}
        out.append("ok")
    except Exception as e:
        out.append(type(e).__name__)
print(json.dumps(out))
`
}

/**
 * Checks one countersigned receipt of a Summarize step with the generated
 * TypeScript, Python and Go checkers (compiled from SAMPLE_SPEC into
 * `<dir>/gen`), with the step's real output and with a tampered one
 * (`words` changed). Returns the three verdicts as `['ok', <error name>]`;
 * `go` is undefined when Go is not installed.
 */
export async function checkSummarizeReceiptEverywhere (dir: string, signed: unknown, descriptor: unknown, output: { words: number } & Record<string, unknown>): Promise<{ ts: string[], py: string[], go?: string[] }> {
  const bad = { ...output, words: output.words + 1 }
  await compileTo(join(dir, 'gen'), [SAMPLE_SPEC])
  const gen = await importGeneratedTs(join(dir, 'gen', 'ts'), join(dir, 'ts-run'))
  const ts = [output, bad].map(o => {
    try {
      gen.checkReceipt(signed, { requireRequester: true, descriptor, output: o })
      return 'ok'
    } catch (err) {
      return (err as Error).name
    }
  })
  const cases = { cases: [output, bad].map(o => ({ signed, descriptor, output: o })) }
  const py = await runPython(join(dir, 'gen', 'py'), pyReceiptChecker({ check: 'plspec.check_receipt(c["signed"], require_requester=True, descriptor=c["descriptor"], output=c["output"])' }), cases)
  if (!goAvailable()) return { ts, py }
  const check = 'plspec.CheckReceipt(c["signed"], plspec.CheckReceiptOptions{RequireRequester: true, Descriptor: c["descriptor"], Output: c["output"]})'
  const go = await runGo(join(dir, 'go-run'), join(dir, 'gen', 'go'), 'plspec', goReceiptChecker({ check }), cases)
  return { ts, py, go }
}

/**
 * A Go provider generated from examples/specs/Summarize.v1.json
 * (`pl spec scaffold --provider --lang go`, standard library only, built
 * with `go build`) attached as a real process to one node of a 3-node mesh,
 * a generated Python provider attached to another; a plan run from the
 * third node is served by the Go process; its receipts verify with the
 * generated TypeScript, Python and Go checkers; a handler output violating
 * the schema is refused by the router inside the process; killing the Go
 * process mid-step fails over to the Python provider.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { waitFor } from '../helpers/mesh.js'
import { attachedMesh, type AttachedMesh, type ProviderProc } from '../helpers/attached.js'
import { tempDir } from '../helpers/tmp.js'
import type { Discovery } from '../../src/discovery/index.js'
import { scaffold } from '../../src/spec/compiler/index.js'
import { http } from '../gateway/helpers.js'
import { checkSummarizeReceiptEverywhere, goAvailable, GO_SKIP, run, SAMPLE_SPEC } from './helpers.js'

const GO_ENV = { GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', GO111MODULE: 'on' }

/** The test's handler.go: prints each call it starts, breaks the schema on "violate", hangs on "hang..." until cancelled. */
const GO_HANDLER = `package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"summarize-provider/summarizespec"
)

func handleSummarize(ctx *summarizespec.CallContext, input *summarizespec.SummarizeInput) (*summarizespec.SummarizeOutput, error) {
	line, _ := json.Marshal(map[string]any{"started": input.Text})
	fmt.Println(string(line))
	if input.Text == "violate" {
		return &summarizespec.SummarizeOutput{Summary: "too few words", Words: -1}, nil
	}
	if strings.HasPrefix(input.Text, "hang") {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(120 * time.Second):
		}
	}
	words := strings.Fields(input.Text)
	n := len(words)
	if n > 3 {
		n = 3
	}
	model := "go"
	return &summarizespec.SummarizeOutput{Summary: strings.Join(words[:n], " "), Words: int64(len(words)), Model: &model}, nil
}

func bid(cfp map[string]any, ctx summarizespec.BidContext) summarizespec.BidAnswer {
	return summarizespec.DefaultBidSummarize(cfp, ctx)
}
`

const PY_HANDLER = `
import json
from summarize_spec import models
from summarize_spec.provider import default_bid_summarize

def summarize(input, ctx):
    print(json.dumps({"started": input.text}), flush=True)
    words = input.text.split()
    return models.SummarizeOutput(summary=" ".join(words[:3]), words=len(words), model="py")

def bid(cfp, ctx):
    return default_bid_summarize(cfp, ctx)
`

let am: AttachedMesh | undefined
let tmp: { dir: string, cleanup: () => Promise<void> }
let goProject: string
let pyProject: string

/** The mesh, once `before` started it (Go is installed). */
function m (): AttachedMesh {
  return am as AttachedMesh
}

async function startGo (node: number, price: number): Promise<ProviderProc> {
  return await m().startProvider(node, join(goProject, 'provider'), [], { cwd: goProject, env: { PL_PRICE: String(price) } })
}

async function startPy (node: number, price: number): Promise<ProviderProc> {
  return await m().startProvider(node, 'python3', ['main.py'], { cwd: pyProject, env: { PL_PRICE: String(price), PYTHONDONTWRITEBYTECODE: '1' } })
}

before(async () => {
  tmp = await tempDir('pl-provider-go-')
  if (!goAvailable()) return
  goProject = join(tmp.dir, 'summarize-go')
  pyProject = join(tmp.dir, 'summarize-py')
  await scaffold(SAMPLE_SPEC, { lang: 'go', provider: true, out: goProject })
  await writeFile(join(goProject, 'handler.go'), GO_HANDLER)
  const vet = await run('go', ['vet', './...'], { cwd: goProject, env: GO_ENV })
  assert.equal(vet.code, 0, `go vet on the scaffolded project:\n${vet.stderr}${vet.stdout}`)
  const built = await run('go', ['build', '-o', 'provider', '.'], { cwd: goProject, env: GO_ENV })
  assert.equal(built.code, 0, `go build:\n${built.stderr}`)
  await scaffold(SAMPLE_SPEC, { lang: 'py', provider: true, out: pyProject })
  await writeFile(join(pyProject, 'handler.py'), PY_HANDLER)
  am = await attachedMesh()
})

after(async () => {
  await am?.stop()
  await tmp?.cleanup()
})

test('a generated Go provider attaches, its node wins a step of a plan run from another node; the receipt verifies with the generated TS, Python and Go checkers', async (t) => {
  if (!goAvailable()) { t.skip(GO_SKIP); return }
  const goProc = await startGo(1, 1)
  await startPy(2, 5)
  await waitFor(async () => new Set((await m().mesh.nodes[0].service<Discovery>('discovery').find({ name: 'Summarize' }, { localOnly: true })).map((r: any) => r.descriptor.provider)).size === 2, 60_000, 'node 0 to see both providers')
  const { run, id } = await m().runSummarize('attached providers close the loop')
  assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
  assert.ok(goProc.lines.some(l => l.started === 'attached providers close the loop'), 'the cheaper Go provider served it')
  const doc = await http(m().base(0), 'GET', `/runs/${id}/receipts`, { key: m().keys[0] })
  const signed = doc.body.receipts[0]
  assert.equal(signed.receipt.provider, m().mesh.nodes[1].peerId)
  assert.equal(signed.receipt.via.kind, 'attached')
  const reg = goProc.lines.find(l => l.registered != null).registered
  assert.equal(signed.receipt.via.target, reg.attachment)
  const descriptor = m().mesh.nodes[1].service<Discovery>('discovery').localCapabilities().find(c => c.cid === reg.capability)?.descriptor
  assert.equal((descriptor?.io.input as { $ref?: string } | undefined)?.$ref, `cid:${reg.spec as string}#/properties/input`, 'the published descriptor points at the spec the Go process registered')
  const output = { summary: 'attached providers close', words: 5, model: 'go' }
  const verdicts = await checkSummarizeReceiptEverywhere(tmp.dir, signed, descriptor, output)
  assert.deepEqual(verdicts.ts, ['ok', 'ReceiptMismatchError'], 'TypeScript checker')
  assert.deepEqual(verdicts.py, ['ok', 'ReceiptMismatchError'], 'Python checker')
  assert.deepEqual(verdicts.go, ['ok', 'ReceiptMismatchError'], 'Go checker')
})

test('a Go handler output violating the schema is refused by the router in the process; the step fails with its typed error', async (t) => {
  if (!goAvailable()) { t.skip(GO_SKIP); return }
  const { run } = await m().runSummarize('violate')
  assert.equal(run.state, 'failed')
  assert.match(JSON.stringify(run.error), /OutputRejectedError/)
  assert.ok(m().procs[0].lines.some(l => l.started === 'violate'), 'the Go handler ran and its output was refused')
})

test('killing the Go provider mid-step fails over to the Python provider', async (t) => {
  if (!goAvailable()) { t.skip(GO_SKIP); return }
  const [first, second] = m().procs
  const running = m().runSummarize('hang then fail over')
  await waitFor(() => first.lines.some(l => l.started === 'hang then fail over'), 60_000, 'the step to start on the cheaper Go provider')
  first.child.kill('SIGKILL')
  const { run } = await running
  assert.equal(run.state, 'succeeded', JSON.stringify(run.error))
  assert.ok(second.lines.some(l => l.started === 'hang then fail over'), 'the step was handed to the Python provider')
})

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { cidStringOf, encodeJson } from '../../src/core/encoding.js'
import { tempDir } from '../helpers/tmp.js'
import { buildGo, compileTo, goAvailable, GO_SKIP, importGeneratedTs, loadVectors, runGoBinary, runPython, typecheckGeneratedTs, type Vector } from './helpers.js'

let dir: string
let cleanup: () => Promise<void>
let ts: any
let vectors: Vector[]

/** Documents whose canonical bytes are easy to get wrong: JS number formatting, key order, escapes. */
const TRICKY: unknown[] = [
  { b: 1, a: 2, aa: 3, B: 4, é: 5, '': 6, a0: 7 },
  [0, -0, 1, -1, 23, 24, 255, 256, 65535, 65536, 4294967295, 4294967296, 9007199254740991, -9007199254740991],
  [9007199254740992, 1e21, 1e-7, 1.5e-7, 0.1, 0.000001, 123456789.123, 1e300, -2.5e-300, 5e-324, 1.7976931348623157e308, 12345678901234567000],
  { s: 'quote " backslash \\ newline \n tab \t ctrl \u0001 \u001f del \u007f nbsp \u00a0 ls \u2028 emoji 😀 cjk 漢字' },
  { nested: { list: [[], {}, [null, true, false]], deep: { x: { y: { z: 'w' } } } } },
  'a'.repeat(300),
  { long: 'é'.repeat(200), n: null }
]

before(async () => {
  ({ dir, cleanup } = await tempDir('pl-spec-codec-'))
  await compileTo(join(dir, 'out'))
  ts = await importGeneratedTs(join(dir, 'out', 'ts'), join(dir, 'ts-run'))
  vectors = await loadVectors()
})

after(async () => { await cleanup() })

function documents (): unknown[] {
  return [...TRICKY, ...vectors.filter(v => v.valid).map(v => v.doc)]
}

test('the generated TypeScript type-checks under strict settings', async () => {
  const files = (await readdir(join(dir, 'out', 'ts'))).filter(f => f.endsWith('.ts'))
  assert.equal(typecheckGeneratedTs(join(dir, 'out', 'ts'), files), '')
})

test('TypeScript: canonical dag-json bytes and CIDs equal the node\'s encodeJson and cidStringOf', () => {
  for (const doc of documents()) {
    assert.equal(new TextDecoder().decode(ts.encodeDagJson(doc)), new TextDecoder().decode(encodeJson(doc)))
    assert.equal(ts.cidOf(doc), cidStringOf(doc))
  }
})

const PY_ENCODE = `
import json, sys
import plspec
docs = json.load(sys.stdin)["docs"]
print(json.dumps([[plspec.encode_dag_json(d).decode("utf-8"), plspec.cid_of(d)] for d in docs]))
`

function expectedEncodings (): string[][] {
  return documents().map(d => [new TextDecoder().decode(encodeJson(d)), cidStringOf(d)])
}

test('Python: canonical dag-json bytes and CIDs equal the node\'s', async () => {
  assert.deepEqual(await runPython(join(dir, 'out', 'py'), PY_ENCODE, { docs: documents() }), expectedEncodings())
})

/** One Go program for every Go check of this file (one build): {mode: encode | decode | roundtrip, ...}. */
const GO_HARNESS = `package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"plspec"
)

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func main() {
	in, _ := io.ReadAll(os.Stdin)
	var req struct {
		Mode  string
		Texts []string
		Cases []struct{ Schema, Bytes string }
	}
	must(json.Unmarshal(in, &req))
	out := []string{}
	switch req.Mode {
	case "encode":
		doc, err := plspec.DecodeDagJSON(in)
		must(err)
		for _, d := range doc.(map[string]any)["docs"].([]any) {
			b, err := plspec.EncodeDagJSON(d)
			must(err)
			c, err := plspec.CIDOf(d)
			must(err)
			out = append(out, string(b), c)
		}
	case "decode":
		for _, text := range req.Texts {
			if _, err := plspec.DecodeDagJSON([]byte(text)); err != nil {
				out = append(out, fmt.Sprintf("%T", err))
			} else {
				out = append(out, "ok")
			}
		}
	case "roundtrip":
		for _, c := range req.Cases {
			b, err := roundTrip(c.Schema, []byte(c.Bytes))
			must(err)
			out = append(out, string(b))
		}
		_, err := plspec.EncodeBidV1(&plspec.BidV1{Cfp: "x", Run: "r", Step: "s", Capability: "c"})
		out = append(out, fmt.Sprintf("%T %v", err, err))
	}
	o, _ := json.Marshal(out)
	fmt.Println(string(o))
}
`

let goBinary: Promise<string> | undefined

/** Builds the Go harness once, with a typed decode→encode case per closed schema. */
async function goHarness (): Promise<string> {
  const stemOf = (label: string): string => label.replace('#', '.').split('.').map(p => p[0].toUpperCase() + p.slice(1)).join('')
  const cases = CLOSED.map(l => `\tcase ${JSON.stringify(l)}:\n\t\tv, err := plspec.Decode${stemOf(l)}(data)\n\t\tif err != nil {\n\t\t\treturn nil, err\n\t\t}\n\t\treturn plspec.Encode${stemOf(l)}(v)`).join('\n')
  const roundTrip = `\nfunc roundTrip(schema string, data []byte) ([]byte, error) {\n\tswitch schema {\n${cases}\n\t}\n\treturn nil, fmt.Errorf("no case for %s", schema)\n}\n`
  goBinary ??= buildGo(join(dir, 'go-harness'), join(dir, 'out', 'go'), 'plspec', GO_HARNESS + roundTrip)
  return await goBinary
}

test('Go: canonical dag-json bytes and CIDs equal the node\'s', async (t) => {
  if (!goAvailable()) { t.skip(GO_SKIP); return }
  const got: string[] = await runGoBinary(await goHarness(), { mode: 'encode', docs: documents() })
  assert.deepEqual(expectedEncodings().flat(), got)
})

/** Texts every strict decoder must refuse. */
const BAD_JSON = ['{"a":1,"a":2}', '{"/":"bafy"}', '{"x":{"/":{"bytes":"AA"}}}', '[1] x', 'NaN', '{"a":Infinity}', '[1e400]', '{"a":01}', '', '{"a":1,}', '"\u0001"']

test('every language refuses duplicate keys, dag-json links, non-finite numbers and malformed JSON', async (t) => {
  for (const text of BAD_JSON) assert.throws(() => ts.decodeDagJson(text), { name: 'SpecDecodeError' }, text)
  const py = await runPython(join(dir, 'out', 'py'), `
import json, sys
import plspec
out = []
for text in json.load(sys.stdin)["texts"]:
    try:
        plspec.decode_dag_json(text.encode("utf-8"))
        out.append("ok")
    except plspec.SpecDecodeError:
        out.append("SpecDecodeError")
print(json.dumps(out))
`, { texts: BAD_JSON })
  assert.deepEqual(py, BAD_JSON.map(() => 'SpecDecodeError'))
  if (!goAvailable()) { t.skip(GO_SKIP); return }
  const go = await runGoBinary(await goHarness(), { mode: 'decode', texts: BAD_JSON })
  assert.deepEqual(go, BAD_JSON.map(() => '*plspec.SpecDecodeError'))
})

/** Closed schemas: their typed bindings hold every member, so decode → encode is the identity on bytes. */
const CLOSED = ['Bid.v1', 'Envelope.v1', 'Capability.v1', 'AdvertiseCapability.v1', 'Receipt.v1', 'SignedReceipt.v1', 'Decline.v1', 'Award.v1', 'CallForProposal.v1', 'Policy.v1', 'Summarize.v1', 'Summarize.v1#input', 'Summarize.v1#output']

function roundTripInputs (all: boolean): Array<{ schema: string, bytes: string }> {
  return vectors.filter(v => v.valid && (all || CLOSED.includes(v.schema))).map(v => ({ schema: v.schema, bytes: new TextDecoder().decode(encodeJson(v.doc)) }))
}

test('TypeScript codecs: decode then encode gives back the canonical bytes; invalid documents are refused', () => {
  for (const { schema, bytes } of roundTripInputs(true)) {
    assert.equal(new TextDecoder().decode(ts.encode(schema, ts.decode(schema, bytes))), bytes, schema)
  }
  assert.equal(new TextDecoder().decode(ts.encodeBidV1(ts.decodeBidV1('{ "run": "r", "step": "s", "cfp": "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", "capability": "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", "price": 1.0, "eta_ms": 2e3, "limits": {}, "expires": 0 }'))),
    '{"capability":"bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy","cfp":"bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy","eta_ms":2000,"expires":0,"limits":{},"price":1,"run":"r","step":"s"}')
  assert.throws(() => ts.encode('Bid.v1', { run: 'r' }), { name: 'SpecValidationError' })
  assert.throws(() => ts.decode('Bid.v1', '{"run": 1}'), { name: 'SpecValidationError' })
})

const PY_ROUNDTRIP = `
import json, sys
import plspec
from plspec import codec
from plspec.runtime import SpecValidationError
out = []
for case in json.load(sys.stdin)["cases"]:
    stem = case["stem"]
    value = getattr(codec, "decode_" + stem)(case["bytes"].encode("utf-8"))
    out.append(getattr(codec, "encode_" + stem)(value).decode("utf-8"))
try:
    codec.encode_bid_v1(codec.models.BidV1(cfp="x", run="r", step="s", capability="c", price=1.0, eta_ms=1, limits=codec.models.BidV1Limits(), expires=0))
    out.append("accepted an invalid cfp")
except SpecValidationError as e:
    out.append(str(e))
print(json.dumps(out))
`

test('Python typed codecs (dataclasses): decode then encode gives back the canonical bytes', async () => {
  const snake = (label: string): string => label.replace('#', '.').split('.').map(p => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase()).join('_')
  const inputs = roundTripInputs(true)
  const got = await runPython(join(dir, 'out', 'py'), PY_ROUNDTRIP, { cases: inputs.map(i => ({ stem: snake(i.schema), bytes: i.bytes })) })
  assert.deepEqual(got.slice(0, -1), inputs.map(i => i.bytes))
  assert.match(got[got.length - 1], /^Bid\.v1: \/cfp must match pattern/)
})

test('Go typed codecs (structs): decode then encode gives back the canonical bytes of closed schemas', async (t) => {
  if (!goAvailable()) { t.skip(GO_SKIP); return }
  const inputs = roundTripInputs(false)
  const got: string[] = await runGoBinary(await goHarness(), { mode: 'roundtrip', cases: inputs.map(i => ({ Schema: i.schema, Bytes: i.bytes })) })
  assert.deepEqual(got.slice(0, -1), inputs.map(i => i.bytes))
  assert.match(got[got.length - 1], /^\*plspec\.SpecValidationError Bid\.v1: \/cfp must match pattern/)
})

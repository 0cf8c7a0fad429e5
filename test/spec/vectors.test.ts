import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { readSchemaPath } from '../../src/spec/compiler/index.js'
import { tempDir } from '../helpers/tmp.js'
import { compileTo, goAvailable, GO_SKIP, importGeneratedTs, loadVectors, runGo, runPython, TEST_SET, vectorFiles, type Vector } from './helpers.js'

let dir: string
let cleanup: () => Promise<void>
let vectors: Array<Vector & { file: string }>

before(async () => {
  ({ dir, cleanup } = await tempDir('pl-spec-vectors-'))
  await compileTo(join(dir, 'out'))
  vectors = await loadVectors()
})

after(async () => { await cleanup() })

function disagreements (got: boolean[]): string[] {
  assert.equal(got.length, vectors.length, 'one verdict per vector')
  return vectors.flatMap((v, i) => got[i] === v.valid ? [] : [`${v.schema}: expected ${v.valid ? 'valid' : 'invalid'}, got ${got[i] ? 'valid' : 'invalid'} (${v.why})`])
}

test('the shared vector set has at least 50 documents, valid and invalid, over every compiled schema', async () => {
  assert.ok(vectors.length >= 50, `${vectors.length} vectors`)
  assert.ok(vectors.filter(v => v.valid).length >= 20, 'enough valid documents')
  assert.ok(vectors.filter(v => !v.valid).length >= 20, 'enough invalid documents')
  const covered = new Set(vectors.map(v => v.schema.split('#')[0]))
  for (const loaded of (await Promise.all(TEST_SET.map(readSchemaPath))).flat()) {
    assert.ok(covered.has(loaded.doc.title as string), `no vector for ${String(loaded.doc.title)}`)
  }
})

test('ajv (the reference) gives every vector its expected verdict', async () => {
  const ajv = new Ajv2020({ strict: false, ownProperties: true })
  const ids = new Map<string, string>()
  for (const loaded of (await Promise.all(TEST_SET.map(readSchemaPath))).flat()) {
    ajv.addSchema(loaded.doc)
    ids.set(loaded.doc.title as string, loaded.doc.$id as string)
  }
  const got = vectors.map(v => {
    const [title, io] = v.schema.split('#')
    const id = ids.get(title)
    assert.ok(id != null, `unknown schema ${v.schema}`)
    const validate = ajv.getSchema(io != null ? `${id}#/properties/${io}` : id)
    assert.ok(validate != null)
    return validate(v.doc) === true
  })
  assert.deepEqual(disagreements(got), [])
})

test('the generated TypeScript validators (ajv standalone, no ajv at run time) agree with ajv on every vector', async () => {
  const js = await readFile(join(dir, 'out', 'ts', 'validators.js'), 'utf8')
  assert.doesNotMatch(js, /require\(|from\s*["']ajv/, 'no runtime import of ajv')
  const mod = await importGeneratedTs(join(dir, 'out', 'ts'), join(dir, 'ts-run'))
  assert.deepEqual(disagreements(vectors.map(v => mod.isValid(v.schema, v.doc))), [])
})

const PY_HARNESS = `
import json, sys
import plspec
files = json.load(sys.stdin)["files"]
out = []
for f in files:
    with open(f, encoding="utf-8") as fh:
        for v in json.load(fh):
            out.append(plspec.is_valid(v["schema"], v["doc"]))
print(json.dumps(out))
`

test('the generated Python validators agree with ajv on every vector', async () => {
  const got = await runPython(join(dir, 'out', 'py'), PY_HARNESS, { files: await vectorFiles() })
  assert.deepEqual(disagreements(got), [])
})

const GO_HARNESS = `package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"plspec"
)

func main() {
	in, _ := io.ReadAll(os.Stdin)
	var req struct{ Files []string }
	if err := json.Unmarshal(in, &req); err != nil {
		panic(err)
	}
	out := []bool{}
	for _, f := range req.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			panic(err)
		}
		doc, err := plspec.DecodeDagJSON(data)
		if err != nil {
			panic(err)
		}
		for _, item := range doc.([]any) {
			v := item.(map[string]any)
			out = append(out, plspec.IsValid(v["schema"].(string), v["doc"]))
		}
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}
`

test('the generated Go validators agree with ajv on every vector', async (t) => {
  if (!goAvailable()) { t.skip(GO_SKIP); return }
  const got = await runGo(join(dir, 'go-run'), join(dir, 'out', 'go'), 'plspec', GO_HARNESS, { files: await vectorFiles() })
  assert.deepEqual(disagreements(got), [])
})

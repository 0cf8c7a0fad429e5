/**
 * The Go provider runtime (src/spec/runtime/provider.go) on its own, built
 * into one harness program against the package generated from the sample
 * spec: its RFC 6455 client against a real `ws` server (masked frames,
 * fragments both ways, pings, the closing handshake, a refused handshake),
 * against a raw TCP peer that breaks the protocol (each bad frame refused
 * with a typed error and the right close code), the Router (input
 * checked before the handler, output after, panics and errors named), and
 * the Provider's protocol loop against a ws server playing the node.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { WebSocketServer, type WebSocket } from 'ws'
import { checkWsClient } from './ws-conformance.js'
import { tempDir } from '../helpers/tmp.js'
import { buildGo, compileTo, goAvailable, GO_SKIP, run, SAMPLE_SPEC } from './helpers.js'

const HARNESS = `package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"plspec"
)

func emit(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func failure(err error) map[string]any {
	return map[string]any{"error": err.Error(), "type": fmt.Sprintf("%T", err)}
}

func echo(url string) {
	if _, err := plspec.DialWebSocket(url+"/refuse", nil, 0); err != nil {
		var wse *plspec.WebSocketError
		errors.As(err, &wse)
		emit(map[string]any{"refused": wse.Status})
	}
	ws, err := plspec.DialWebSocket(url+"/ok", http.Header{"X-Test": {"1"}}, 0)
	if err != nil {
		panic(err)
	}
	if err := ws.SendFragmented(plspec.OpText, []byte(strings.Repeat("héllo ", 50)), 7); err != nil {
		panic(err)
	}
	seen := []string{}
	for {
		text, err := ws.RecvText()
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		seen = append(seen, text)
		if text == "bye?" {
			if err := ws.SendText("bye"); err != nil {
				panic(err)
			}
		}
	}
	emit(map[string]any{"seen": seen, "close": ws.CloseCode})
}

// recv prints every message until the connection ends or fails.
func recv(url string, max int) {
	ws, err := plspec.DialWebSocket(url, nil, 0)
	if err != nil {
		emit(failure(err))
		return
	}
	ws.MaxMessage = max
	for {
		text, err := ws.RecvText()
		if err == io.EOF {
			emit(map[string]any{"eof": true, "close": ws.CloseCode})
			return
		}
		if err != nil {
			emit(failure(err))
			return
		}
		emit(map[string]any{"text": text})
	}
}

func router() {
	ran := 0
	handler := plspec.SummarizeHandlerFunc(func(ctx *plspec.CallContext, in *plspec.SummarizeInput) (*plspec.SummarizeOutput, error) {
		ran++
		switch in.Text {
		case "panic":
			panic("boom")
		case "error":
			return nil, errors.New("no model today")
		case "bad":
			return &plspec.SummarizeOutput{Summary: "s", Words: -1}, nil
		case "nil":
			return nil, nil
		}
		max := int64(100)
		if in.MaxWords != nil {
			max = *in.MaxWords
		}
		return &plspec.SummarizeOutput{Summary: in.Text, Words: max}, nil
	})
	r := plspec.NewRouter(plspec.SummarizeRoute(handler, plspec.DefaultBidSummarize))
	out := map[string]any{}
	ctx := &plspec.CallContext{Call: "c1"}
	for _, c := range []struct {
		name  string
		input any
	}{
		{"ok", map[string]any{"text": "hi", "max_words": 7.0}},
		{"empty", map[string]any{"text": ""}},
		{"extra", map[string]any{"text": "hi", "evil": true}},
		{"panic", map[string]any{"text": "panic"}},
		{"error", map[string]any{"text": "error"}},
		{"bad", map[string]any{"text": "bad"}},
		{"nil", map[string]any{"text": "nil"}},
	} {
		doc, err := r.Dispatch(ctx, "Summarize", "1.0.0", c.input)
		if err != nil {
			out[c.name] = failure(err)
		} else {
			out[c.name] = doc
		}
	}
	if _, err := r.Dispatch(ctx, "Summarize", "2.0.0", map[string]any{"text": "x"}); err != nil {
		out["unknown"] = failure(err)
	}
	out["ran"] = ran
	out["bid_idle"] = plspec.DefaultBidSummarize(nil, plspec.BidContext{})
	out["bid_busy"] = plspec.DefaultBidSummarize(nil, plspec.BidContext{Active: 8, ActiveTotal: 8})
	emit(out)
}

// serve attaches to a (fake) node and serves Summarize until it closes the connection.
func serve(gateway string) {
	handler := plspec.SummarizeHandlerFunc(func(ctx *plspec.CallContext, in *plspec.SummarizeInput) (*plspec.SummarizeOutput, error) {
		if in.Text == "hang" {
			ctx.Progress(1, 2, "waiting")
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return &plspec.SummarizeOutput{Summary: in.Text, Words: 1}, nil
	})
	price := 2.5
	p := plspec.NewProvider(gateway, "k", plspec.NewRouter(plspec.SummarizeRoute(handler, plspec.DefaultBidSummarize)), plspec.ProviderOptions{Price: &price})
	if err := p.Serve(); err != nil {
		emit(failure(err))
		return
	}
	emit(map[string]any{"served": len(p.Registered)})
}

func main() {
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2])
	case "echo":
		echo(os.Args[2])
	case "recv":
		max, _ := strconv.Atoi(os.Args[3])
		recv(os.Args[2], max)
	case "router":
		router()
	}
}
`

let tmp: { dir: string, cleanup: () => Promise<void> }
let harness: string

before(async () => {
  tmp = await tempDir('pl-provider-go-ws-')
  if (!goAvailable()) return
  await compileTo(join(tmp.dir, 'gen'), [SAMPLE_SPEC], ['go'])
  harness = await buildGo(join(tmp.dir, 'harness'), join(tmp.dir, 'gen', 'go'), 'plspec', HARNESS)
})

after(async () => { await tmp?.cleanup() })

async function harnessLines (args: string[]): Promise<any[]> {
  const res = await run(harness, args)
  assert.equal(res.code, 0, res.stderr)
  return res.stdout.trim().split('\n').map(l => JSON.parse(l))
}

test('the Go SDK WebSocket client masks, fragments, reassembles, answers pings and closes cleanly', async (t) => {
  if (!goAvailable()) { t.skip(GO_SKIP); return }
  await checkWsClient(async (port) => await harnessLines(['echo', `ws://127.0.0.1:${port}`]))
})

/** A server frame: FIN + opcode, unmasked, payload length encoded as given. */
function frame (b0: number, payload: Buffer | string): Buffer {
  const data = Buffer.from(payload)
  if (data.length < 126) return Buffer.concat([Buffer.from([b0, data.length]), data])
  const len = Buffer.alloc(2)
  len.writeUInt16BE(data.length)
  return Buffer.concat([Buffer.from([b0, 126]), len, data])
}

interface HostileCase {
  /** bytes sent after the handshake */
  send: Buffer
  /** the error the client must report */
  error: RegExp
  /** the close code of the client's close frame; undefined: it sends none */
  close?: number
  /** answer the handshake with a wrong Sec-WebSocket-Accept */
  badAccept?: boolean
  /** extra handshake header bytes */
  headerBytes?: number
}

const mask = Buffer.from([1, 2, 3, 4])
const CASES: Record<string, HostileCase> = {
  'masked-server-frame': { send: Buffer.concat([frame(0x81, 'ok'), Buffer.from([0x81, 0x82]), mask, Buffer.from([0x6e, 0x6b])]), error: /a server must not mask its frames/, close: 1002 },
  'reserved-bits': { send: frame(0xc1, 'a'), error: /reserved bits set/, close: 1002 },
  'message-over-the-limit': { send: frame(0x81, 'x'.repeat(200)), error: /message over 64 bytes/, close: 1009 },
  'fragments-over-the-limit': { send: Buffer.concat([frame(0x01, 'x'.repeat(40)), frame(0x80, 'x'.repeat(40))]), error: /message over 64 bytes/, close: 1009 },
  'long-control-frame': { send: frame(0x89, 'p'.repeat(126)), error: /control frames are short and not fragmented/, close: 1002 },
  'fragmented-control-frame': { send: frame(0x09, 'p'), error: /control frames are short and not fragmented/, close: 1002 },
  'continuation-without-a-message': { send: frame(0x80, 'a'), error: /continuation frame without a message/, close: 1002 },
  'message-inside-a-fragmented-one': { send: Buffer.concat([frame(0x01, 'a'), frame(0x81, 'b')]), error: /new message inside a fragmented one/, close: 1002 },
  'text-not-utf8': { send: frame(0x81, Buffer.from([0xff, 0xfe])), error: /text message is not UTF-8/, close: 1007 },
  'unknown-opcode': { send: frame(0x83, ''), error: /unknown opcode 3/, close: 1002 },
  'binary-message': { send: frame(0x82, Buffer.from([0])), error: /binary messages are not expected/, close: 1003 },
  'length-with-msb-set': { send: Buffer.from([0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]), error: /most significant bit/, close: 1002 },
  'one-byte-close-payload': { send: frame(0x88, 'x'), error: /close payload has no room for its code/, close: 1002 },
  'wrong-accept-key': { send: Buffer.alloc(0), error: /does not accept this key/, badAccept: true },
  'handshake-headers-too-big': { send: Buffer.alloc(0), error: /handshake answer over 65536 bytes/, headerBytes: 70_000 }
}

/** The client's first close frame among the bytes it sent after the handshake (its frames are masked). */
function closeCodeOf (bytes: Buffer): number | undefined {
  let i = 0
  while (i + 6 <= bytes.length) {
    const op = bytes[i] & 0x0f
    let n = bytes[i + 1] & 0x7f
    let at = i + 2
    if (n === 126) { n = bytes.readUInt16BE(at); at += 2 } else if (n === 127) { n = Number(bytes.readBigUInt64BE(at)); at += 8 }
    const key = bytes.subarray(at, at + 4)
    const payload = Buffer.alloc(Math.min(n, Math.max(0, bytes.length - at - 4)))
    for (let j = 0; j < payload.length; j++) payload[j] = bytes[at + 4 + j] ^ key[j & 3]
    if (op === 0x8) return payload.length >= 2 ? payload.readUInt16BE(0) : 1005
    i = at + 4 + n
  }
  return undefined
}

test('the Go SDK WebSocket client refuses each frame that breaks RFC 6455 with an error and the right close code', async (t) => {
  if (!goAvailable()) { t.skip(GO_SKIP); return }
  const received = new Map<string, Buffer>()
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    let head = Buffer.alloc(0)
    let name: string | undefined
    socket.on('data', (d) => {
      if (name != null) { received.set(name, Buffer.concat([received.get(name) ?? Buffer.alloc(0), d])); return }
      head = Buffer.concat([head, d])
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      const text = head.subarray(0, end).toString('latin1')
      name = /^GET \/([a-z0-9-]+) /.exec(text)?.[1] ?? ''
      received.set(name, head.subarray(end + 4))
      const c = CASES[name]
      const key = /sec-websocket-key: *(\S+)/i.exec(text)?.[1] ?? ''
      const accept = createHash('sha1').update(c.badAccept === true ? `${key}x` : `${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')
      const filler = c.headerBytes != null ? `X-Filler: ${'f'.repeat(c.headerBytes)}\r\n` : ''
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${filler}\r\n`)
      socket.write(c.send)
    })
    socket.on('error', () => {})
    socket.on('close', () => { sockets.delete(socket) })
  })
  try {
    await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
    const port = (server.address() as { port: number }).port
    for (const [name, c] of Object.entries(CASES)) {
      const lines = await harnessLines(['recv', `ws://127.0.0.1:${port}/${name}`, '64'])
      const last = lines[lines.length - 1]
      assert.equal(last.type, '*plspec.WebSocketError', `${name}: ${JSON.stringify(lines)}`)
      assert.match(last.error, c.error, name)
      if (name === 'masked-server-frame') assert.deepEqual(lines[0], { text: 'ok' }, 'the good frame before the bad one was delivered')
      await waitForClose(sockets)
      assert.equal(closeCodeOf(received.get(name) ?? Buffer.alloc(0)), c.close, `${name}: the client's close code`)
    }
  } finally {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  }
})

/** The harness exited, so its socket is closed; wait until the server saw every byte it sent (the close event). */
async function waitForClose (sockets: Set<Socket>): Promise<void> {
  const open = [...sockets]
  await Promise.all(open.map(async s => await new Promise<void>((resolve) => { if (s.destroyed || s.readableEnded) resolve(); else s.once('close', () => { resolve() }) })))
}

test('the generated Go router checks the input before the handler and the output after; panics, errors and unknown capabilities are named', async (t) => {
  if (!goAvailable()) { t.skip(GO_SKIP); return }
  const [out] = await harnessLines(['router'])
  assert.deepEqual(out.ok, { summary: 'hi', words: 7 })
  assert.equal(out.empty.type, '*plspec.InputRejectedError')
  assert.match(out.empty.error, /Summarize input: .*\/text/)
  assert.equal(out.extra.type, '*plspec.InputRejectedError')
  assert.equal(out.panic.type, '*plspec.HandlerFailedError')
  assert.match(out.panic.error, /panic: boom/)
  assert.equal(out.error.type, '*plspec.HandlerFailedError')
  assert.match(out.error.error, /no model today/)
  assert.equal(out.bad.type, '*plspec.OutputRejectedError')
  assert.match(out.bad.error, /Summarize output: .*\/words/)
  assert.equal(out.nil.type, '*plspec.OutputRejectedError')
  assert.equal(out.unknown.type, '*plspec.UnknownCapabilityError')
  assert.match(out.unknown.error, /no handler for Summarize 2\.0\.0 \(have: Summarize 1\.0\.0\)/)
  assert.equal(out.ran, 5, 'the handler ran for the valid inputs only (ok, panic, error, bad, nil)')
  assert.deepEqual(out.bid_idle, { offer: {} })
  assert.deepEqual(out.bid_busy, { decline: { reason: 'busy', message: '8 calls running (max 8)' } })
})

test('the Go Provider registers, answers bid questions, serves calls, stops a cancelled call and ends when the node closes', async (t) => {
  if (!goAvailable()) { t.skip(GO_SKIP); return }
  // the peer of the unit under test: a node's /attach endpoint, played by a ws server
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  const frames: any[] = []
  const waiters: Array<() => void> = []
  let auth: string | undefined
  let path: string | undefined
  wss.on('connection', (ws: WebSocket, req) => {
    auth = req.headers.authorization
    path = req.url
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString())
      frames.push(f)
      for (const w of waiters.splice(0)) w()
      if (f.op === 'register') ws.send(JSON.stringify({ type: 'registered', id: f.id, attachment: 'a1', capability: 'bafy-cap', spec: 'bafy-spec', name: f.spec['x-pl-capability'].name, version: f.spec['x-pl-capability'].version }))
    })
  })
  const next = async (pred: (f: any) => boolean): Promise<any> => {
    const timeout = AbortSignal.timeout(60_000)
    for (;;) {
      const f = frames.find(pred)
      if (f != null) return f
      if (timeout.aborted) throw new Error(`no such frame from the Go provider; got ${JSON.stringify(frames)}`)
      await new Promise<void>((resolve) => { waiters.push(resolve); timeout.addEventListener('abort', () => { resolve() }, { once: true }) })
    }
  }
  try {
    await new Promise<void>((resolve) => { if (wss.address() != null) resolve(); else wss.once('listening', () => { resolve() }) })
    const port = (wss.address() as { port: number }).port
    const done = run(harness, ['serve', `http://127.0.0.1:${port}`])
    const reg = await next(f => f.op === 'register')
    assert.equal(auth, 'Bearer k')
    assert.equal(path, '/attach')
    assert.equal(reg.spec['x-pl-capability'].name, 'Summarize')
    assert.equal(reg.bids, true)
    assert.equal(reg.price, 2.5)
    const ws = [...wss.clients][0]
    const cap = { name: 'Summarize', version: '1.0.0' }
    ws.send(JSON.stringify({ type: 'bid', call: 'bid-1', attachment: 'a1', capability: cap, cfp: {}, default: {} }))
    assert.deepEqual(await next(f => f.call === 'bid-1'), { op: 'bid', call: 'bid-1', offer: {} })
    ws.send(JSON.stringify({ type: 'bid', call: 'bid-2', attachment: 'a1', capability: { name: 'Other', version: '1' }, cfp: {}, default: {} }))
    assert.equal((await next(f => f.call === 'bid-2')).decline.reason, 'unsupported')
    ws.send(JSON.stringify({ type: 'call', call: 'call-1', attachment: 'a1', capability: cap, input: { text: 'hang' }, limits: { wall_ms: 1000 } }))
    assert.deepEqual(await next(f => f.op === 'progress'), { op: 'progress', call: 'call-1', n: 1, total: 2, message: 'waiting' })
    ws.send(JSON.stringify({ type: 'cancel', call: 'call-1', reason: 'wall limit' }))
    const cancelled = await next(f => f.call === 'call-1' && f.op !== 'progress')
    assert.equal(cancelled.op, 'error', 'a cancelled call sends no result')
    assert.match(cancelled.error.message, /context canceled/)
    ws.send(JSON.stringify({ type: 'call', call: 'call-2', attachment: 'a1', capability: cap, input: { text: '' }, limits: {} }))
    assert.equal((await next(f => f.call === 'call-2')).error.name, 'InputRejectedError')
    ws.send(JSON.stringify({ type: 'call', call: 'call-3', attachment: 'a1', capability: cap, input: { text: 'fine' }, limits: {} }))
    assert.deepEqual(await next(f => f.call === 'call-3'), { op: 'result', call: 'call-3', output: { summary: 'fine', words: 1 } })
    ws.close(1001, 'node stopping')
    const res = await done
    assert.equal(res.code, 0, res.stderr)
    assert.deepEqual(JSON.parse(res.stdout.trim()), { served: 1 })
  } finally {
    for (const c of wss.clients) c.terminate()
    await new Promise<void>((resolve) => { wss.close(() => { resolve() }) })
  }
})

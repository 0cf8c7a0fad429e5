/**
 * The standard-library RFC 6455 client of the generated Python provider SDK
 * (src/spec/runtime/attach.py) against a real `ws` server: masked frames
 * (the server refuses unmasked ones), fragmented messages both ways, pings
 * answered with pongs, the closing handshake, a refused handshake.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { WebSocketServer, type WebSocket } from 'ws'
import { runtimeDir } from '../../src/spec/compiler/emit/runtime-files.js'
import { run } from './helpers.js'

const CLIENT = `
import json, sys
from attach import WebSocket, WebSocketError
url = sys.argv[1]
try:
    WebSocket.connect(url + "/refuse")
except WebSocketError as e:
    print(json.dumps({"refused": e.status}), flush=True)
ws = WebSocket.connect(url + "/ok", {"X-Test": "1"})
ws.send_text("héllo " * 50, fragment_size=7)
seen = []
while True:
    text = ws.recv_text()
    if text is None:
        break
    seen.append(text)
    if text == "bye?":
        ws.send_text("bye")
print(json.dumps({"seen": seen, "close": ws.close_code}), flush=True)
`

test('the Python SDK WebSocket client masks, fragments, reassembles, answers pings and closes cleanly', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', verifyClient: (info, done) => { done(info.req.url !== '/refuse', 403) } })
  const pongs: Buffer[] = []
  const got: string[] = []
  wss.on('connection', (ws: WebSocket, req) => {
    assert.equal(req.headers['x-test'], '1')
    ws.on('pong', (d) => { pongs.push(d) })
    ws.on('message', (data) => {
      const text = data.toString()
      got.push(text)
      if (text === 'bye') { ws.close(4000, 'done'); return }
      // a fragmented message from the server, a ping between fragments, then a question
      ws.send('part-one|', { fin: false })
      ws.ping(Buffer.from('are you there'))
      ws.send('part-two', { fin: true })
      ws.send('bye?')
    })
  })
  try {
    await new Promise<void>((resolve) => { if (wss.address() != null) resolve(); else wss.once('listening', () => { resolve() }) })
    const port = (wss.address() as { port: number }).port
    const res = await run('python3', ['-c', CLIENT, `ws://127.0.0.1:${port}`], { env: { PYTHONPATH: runtimeDir(), PYTHONDONTWRITEBYTECODE: '1' } })
    assert.equal(res.code, 0, res.stderr)
    const lines = res.stdout.trim().split('\n').map(l => JSON.parse(l))
    assert.deepEqual(lines[0], { refused: 403 })
    assert.deepEqual(lines[1], { seen: ['part-one|part-two', 'bye?'], close: 4000 })
    assert.equal(got[0], 'héllo '.repeat(50), 'the fragmented, masked client message arrived whole')
    assert.deepEqual(got.slice(1), ['bye'])
    assert.deepEqual(pongs.map(p => p.toString()), ['are you there'])
  } finally {
    for (const c of wss.clients) c.terminate()
    await new Promise<void>((resolve) => { wss.close(() => { resolve() }) })
  }
})

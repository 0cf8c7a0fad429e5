/**
 * The standard-library RFC 6455 client of the generated Python provider SDK
 * (src/spec/runtime/attach.py) against a real `ws` server: masked frames
 * (the server refuses unmasked ones), fragmented messages both ways, pings
 * answered with pongs, the closing handshake, a refused handshake.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkWsClient } from './ws-conformance.js'
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
  await checkWsClient(async (port) => {
    const res = await run('python3', ['-c', CLIENT, `ws://127.0.0.1:${port}`], { env: { PYTHONPATH: runtimeDir(), PYTHONDONTWRITEBYTECODE: '1' } })
    assert.equal(res.code, 0, res.stderr)
    return res.stdout.trim().split('\n').map(l => JSON.parse(l))
  })
})

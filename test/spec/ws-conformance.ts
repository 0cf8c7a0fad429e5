/**
 * The WebSocket conformance check shared by the SDK clients' tests (Python,
 * Go): a real `ws` server refuses `/refuse` with 403, and to each message
 * answers a fragmented message with a ping between its fragments, then
 * "bye?"; on "bye" it closes with 4000. The client under test must send
 * 'héllo ' × 50 (fragmented and masked), then "bye", answer the ping, and
 * report as JSON lines `{ refused: 403 }` then `{ seen, close }`.
 */
import assert from 'node:assert/strict'
import { WebSocketServer, type WebSocket } from 'ws'

/** Runs `client(port)` (the SDK client, returning its output lines) against the server, checks both sides, closes the server. */
export async function checkWsClient (client: (port: number) => Promise<unknown[]>): Promise<void> {
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
    const lines = await client((wss.address() as { port: number }).port)
    assert.deepEqual(lines[0], { refused: 403 })
    assert.deepEqual(lines[1], { seen: ['part-one|part-two', 'bye?'], close: 4000 })
    assert.equal(got[0], 'héllo '.repeat(50), 'the fragmented, masked client message arrived whole (ws refuses unmasked client frames)')
    assert.deepEqual(got.slice(1), ['bye'])
    assert.deepEqual(pongs.map(p => p.toString()), ['are you there'])
  } finally {
    for (const c of wss.clients) c.terminate()
    await new Promise<void>((resolve) => { wss.close(() => { resolve() }) })
  }
}

/**
 * Run inside a network namespace by test/helpers/netns.ts: forwards
 * connections on a Unix socket (the file system is shared between
 * namespaces) to 127.0.0.1:<port> of this namespace, where a pl-node's
 * control API listens. Prints `ready` once listening; exits with its parent.
 *
 * Usage: node netns-forward.js <socket path> <port>
 */
import { createServer, connect } from 'node:net'
import { rmSync } from 'node:fs'

const [sock, port] = process.argv.slice(2)
if (sock == null || port == null) {
  process.stderr.write('usage: netns-forward.js <socket path> <port>\n')
  process.exit(2)
}
rmSync(sock, { force: true })
const server = createServer((c) => {
  const u = connect(Number(port), '127.0.0.1')
  c.pipe(u).pipe(c)
  c.on('error', () => { u.destroy() })
  u.on('error', () => { c.destroy() })
})
server.listen(sock, () => { process.stdout.write('ready\n') })
// the test that started this one went away: stop too
const parent = process.ppid
const watch = setInterval(() => {
  try { process.kill(parent, 0) } catch { server.close(); process.exit(0) }
}, 1000)
watch.unref()
process.on('SIGTERM', () => { server.close(); rmSync(sock, { force: true }); process.exit(0) })

/**
 * A request sent with node:http exactly as given: fetch refuses a body on a
 * GET and picks its own headers, and the point of the tests using this is
 * to send any body, with any content type, to any route.
 */
import { request } from 'node:http'

export interface RawAnswer { status: number, json: any }

/** Sends `body` (content-length set) and answers the status and the JSON body (its text when not JSON). A server that answers and closes before the whole body is sent is not an error. */
export async function rawRequest (url: string, method: string, body: string | undefined, headers: Record<string, string | number> = {}): Promise<RawAnswer> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...headers, ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json: any
        try { json = JSON.parse(text) } catch { json = text }
        resolve({ status: res.statusCode ?? 0, json })
      })
      res.on('error', reject)
    })
    // the server may answer (413, 400) and close before the whole body is sent
    req.on('error', (err: any) => { if (err.code === 'EPIPE' || err.code === 'ECONNRESET') return; reject(err) })
    req.end(body)
  })
}

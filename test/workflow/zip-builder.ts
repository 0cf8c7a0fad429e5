/**
 * Builds hostile ZIPs for tests: any entry name, any declared size, symlink
 * modes — everything a well-behaved writer would refuse to produce.
 */
import { crc32, deflateRawSync } from 'node:zlib'

export interface RawEntry {
  name: string
  data?: Uint8Array | string
  /** store instead of deflate */
  stored?: boolean
  /** lie about the uncompressed size */
  declaredSize?: number
  /** unix mode (e.g. 0o120777 for a symlink) */
  mode?: number
}

function le (n: number, bytes: number): number[] {
  const out: number[] = []
  for (let i = 0; i < bytes; i++) out.push((n >>> (8 * i)) & 0xff)
  return out
}

export function buildZip (entries: RawEntry[]): Uint8Array {
  const locals: number[] = []
  const central: number[] = []
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8')
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : Buffer.from(e.data ?? new Uint8Array())
    const body = e.stored === true ? data : deflateRawSync(data)
    const method = e.stored === true ? 0 : 8
    const size = e.declaredSize ?? data.length
    const crc = crc32(data)
    const offset = locals.length
    locals.push(...le(0x04034b50, 4), ...le(20, 2), ...le(0x800, 2), ...le(method, 2), ...le(0, 4), ...le(crc, 4), ...le(body.length, 4), ...le(size, 4), ...le(name.length, 2), ...le(0, 2), ...name, ...body)
    const madeBy = e.mode != null ? (3 << 8) | 20 : 20
    const external = e.mode != null ? (e.mode << 16) >>> 0 : 0
    central.push(...le(0x02014b50, 4), ...le(madeBy, 2), ...le(20, 2), ...le(0x800, 2), ...le(method, 2), ...le(0, 4), ...le(crc, 4), ...le(body.length, 4), ...le(size, 4), ...le(name.length, 2), ...le(0, 2), ...le(0, 2), ...le(0, 2), ...le(0, 2), ...le(external, 4), ...le(offset, 4), ...name)
  }
  const eocd = [...le(0x06054b50, 4), ...le(0, 2), ...le(0, 2), ...le(entries.length, 2), ...le(entries.length, 2), ...le(central.length, 4), ...le(locals.length, 4), ...le(0, 2)]
  return Uint8Array.from([...locals, ...central, ...eocd])
}

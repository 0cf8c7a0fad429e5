/**
 * A seeded PRNG (mulberry32), so a chaos schedule can be replayed from its seed.
 *
 * @example
 * const rng = seededRng(42); rng.int(0, 9); rng.pick(['a', 'b'])
 */
export interface Rng {
  /** uniform in [0, 1) */
  next: () => number
  /** integer in [min, max] (both inclusive) */
  int: (min: number, max: number) => number
  pick: <T>(items: readonly T[]) => T
}

export function seededRng (seed: number): Rng {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => {
      if (items.length === 0) throw new TypeError('pick from an empty list')
      return items[Math.floor(next() * items.length)]
    }
  }
}

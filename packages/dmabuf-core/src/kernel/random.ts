// drivers/char/random.c: get_random_u32() and friends, seeded so runs repeat.
/**
 * Seeded pseudo-random numbers for the kernel (`get_random_u32()` and
 * friends). xoshiro128** seeded through splitmix32: the same seed gives the
 * same sequence on every run and machine.
 * @public
 */
export class KernelRandom {
  // The state is kept as int32 (`| 0`), never as uint32 (`>>> 0`): a field that holds both made
  // V8 deoptimize getRandomBytes() ("lost precision") 55 times in one conformance run.
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;
  readonly seed: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    let x = this.seed;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = next() | 0;
    this.#s1 = next() | 0;
    this.#s2 = next() | 0;
    this.#s3 = next() | 0;
  }

  /** `get_random_u32()`. */
  getRandomU32(): number {
    const m = Math.imul(this.#s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = (this.#s3 << 11) | (this.#s3 >>> 21);
    return result;
  }

  /** `get_random_u64()`. */
  getRandomU64(): bigint {
    return (BigInt(this.getRandomU32()) << 32n) | BigInt(this.getRandomU32());
  }

  /** `get_random_u32_below(ceil)`: uniform in [0, ceil). */
  getRandomU32Below(ceil: number): number {
    if (ceil <= 0) return 0;
    // Rejection sampling keeps the distribution uniform.
    const limit = Math.floor(0x1_0000_0000 / ceil) * ceil;
    for (;;) {
      const r = this.getRandomU32();
      if (r < limit) return r % ceil;
    }
  }

  /** `get_random_bytes()`. */
  getRandomBytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    // Whole words, stored as little-endian u32s (the byte order below).
    const words = LITTLE_ENDIAN ? n >>> 2 : 0;
    if (words) {
      const w = new Uint32Array(out.buffer, 0, words);
      // The xoshiro128** steps of getRandomU32(), in locals.
      let s0 = this.#s0;
      let s1 = this.#s1;
      let s2 = this.#s2;
      let s3 = this.#s3;
      for (let j = 0; j < words; j++) {
        const m = Math.imul(s1, 5);
        w[j] = Math.imul((m << 7) | (m >>> 25), 9);
        const t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 11) | (s3 >>> 21);
      }
      this.#s0 = s0;
      this.#s1 = s1;
      this.#s2 = s2;
      this.#s3 = s3;
    }
    for (let i = words * 4; i < n; i += 4) {
      const r = this.getRandomU32();
      out[i] = r & 0xff;
      if (i + 1 < n) out[i + 1] = (r >>> 8) & 0xff;
      if (i + 2 < n) out[i + 2] = (r >>> 16) & 0xff;
      if (i + 3 < n) out[i + 3] = r >>> 24;
    }
    return out;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

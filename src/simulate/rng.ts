/**
 * Seeded pseudo-random numbers (sfc32 seeded through splitmix32). Every random choice of the
 * simulator goes through an Rng so a seed reproduces a run byte for byte. Independent streams
 * (`fork`) keep parts independent: changing the background share does not move user actions.
 */
export class Rng {
  private a: number; private b: number; private c: number; private d: number;

  constructor(seed: number, stream = 0) {
    let s = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(stream | 0, 0x85ebca6b) ^ 0x2545f491) >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.a = next(); this.b = next(); this.c = next(); this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** independent stream derived from this one and a tag */
  fork(tag: string): Rng {
    let h = 0x811c9dc5;
    for (let i = 0; i < tag.length; i++) h = Math.imul(h ^ tag.charCodeAt(i), 0x01000193);
    return new Rng(this.u32(), h >>> 0);
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** [0, 1) */
  next(): number { return this.u32() / 4294967296; }
  /** integer in [lo, hi] */
  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo + 1)); }
  /** float in [lo, hi) */
  range(lo: number, hi: number): number { return lo + this.next() * (hi - lo); }
  chance(p: number): boolean { return this.next() < p; }
  pick<T>(xs: readonly T[]): T {
    if (!xs.length) throw new Error('pick from empty list');
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  /** weighted choice over [item, weight] pairs */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of items) total += Math.max(0, w);
    let r = this.next() * total;
    for (const [x, w] of items) { r -= Math.max(0, w); if (r < 0) return x; }
    return items[items.length - 1]![0];
  }
  /** exponential with the given mean */
  exp(mean: number): number { return -Math.log(1 - this.next()) * mean; }
  /** Poisson count with the given mean (Knuth for small means, normal approximation above) */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const l = Math.exp(-mean);
    let k = 0; let p = 1;
    do { k++; p *= this.next(); } while (p > l);
    return k - 1;
  }
  normal(): number {
    const u = 1 - this.next(); const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** log-normal-ish latency around `median`, clipped to [min, max] */
  around(median: number, spread = 0.35, min = median / 4, max = median * 6): number {
    return Math.min(max, Math.max(min, median * Math.exp(spread * this.normal())));
  }
  hex(n: number): string {
    let s = '';
    while (s.length < n) s += this.u32().toString(16).padStart(8, '0');
    return s.slice(0, n);
  }
  /** RFC 4122 version-4 style UUID */
  uuid(): string {
    const h = this.hex(32);
    const variant = '89ab'[this.u32() & 3]!;
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
  /** Kubernetes' random-suffix alphabet (no vowels, no confusable digits) */
  suffix(n: number): string {
    const A = 'bcdfghjklmnpqrstvwxz2456789';
    let s = '';
    for (let i = 0; i < n; i++) s += A[this.u32() % A.length];
    return s;
  }
}

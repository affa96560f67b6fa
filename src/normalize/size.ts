/**
 * Approximate memory an event holds, for the byte bound on what normalize buffers: strings
 * at 2 bytes a character, a fixed overhead per value. Walks at most `budget` values (bodies
 * can be big); the rest is estimated from what was seen.
 */
const VALUE = 16;
const SLOT = 40;

export function approxBytes(v: unknown, budget = 4096): number {
  let n = 0;
  let visited = 0;
  const stack: unknown[] = [v];
  while (stack.length) {
    const x = stack.pop();
    if (++visited > budget) return Math.ceil(n * (1 + stack.length / visited)) + stack.length * VALUE;
    if (typeof x === 'string') n += VALUE + 2 * x.length;
    else if (x instanceof Uint8Array) n += VALUE + x.byteLength;
    else if (Array.isArray(x)) { n += VALUE + 8 * x.length; for (const i of x) stack.push(i); }
    else if (typeof x === 'object' && x !== null) {
      for (const k in x as Record<string, unknown>) { n += SLOT + 2 * k.length; stack.push((x as Record<string, unknown>)[k]); }
    } else n += VALUE;
  }
  return n;
}

/** Simulated time is kept in integer microseconds since the epoch. */
export const MS = 1000;
export const SEC = 1_000_000;
export const MIN = 60 * SEC;

/** RFC3339 with microseconds, as the apiserver writes audit timestamps: 2026-01-01T00:00:00.123456Z */
export function rfc3339Micro(us: number): string {
  const ms = Math.floor(us / 1000);
  const iso = new Date(ms).toISOString(); // ...T00:00:00.123Z
  const micro = String(Math.floor(us) - ms * 1000).padStart(3, '0');
  return `${iso.slice(0, 23)}${micro}Z`;
}

/** RFC3339 to the second, as object metadata (creationTimestamp, managedFields time) carries it */
export function rfc3339Sec(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString().slice(0, 19) + 'Z';
}

/** Parses an RFC3339 timestamp (any fraction digits) to microseconds. */
export function parseMicro(s: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return NaN;
  const base = Date.parse(m[1]! + m[3]!);
  const frac = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  return base * 1000 + Number(frac);
}

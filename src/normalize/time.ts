/**
 * RFC 3339 timestamps as the apiserver writes them ("2026-01-01T10:00:00.123456Z") to epoch
 * milliseconds, keeping microseconds as the fraction (Date.parse would drop them).
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})$/;

/** Epoch ms (fractional) or NaN when `s` is not an RFC 3339 timestamp. */
export function parseAuditTime(s: unknown): number {
  if (typeof s !== 'string') return NaN;
  const m = RFC3339.exec(s);
  if (!m) return NaN;
  const [, y, mo, d, h, mi, se, frac, tz] = m;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(se) > 60) return NaN;
  let ms = Date.UTC(Number(y), month - 1, day, Number(h), Number(mi), Number(se));
  if (frac) ms += Number(`0.${frac}`) * 1000;
  if (tz !== 'Z' && tz !== 'z') {
    const sign = tz![0] === '-' ? -1 : 1;
    const digits = tz!.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return ms;
}

/**
 * The DateTime scalar: ISO-8601 UTC out; ISO-8601 (with a zone), epoch milliseconds or a
 * relative `now[-N(s|m|h|d)]` in.
 */
import { GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { userError } from './errors.ts';

const REL = /^now(?:-(\d{1,9})(s|m|h|d))?$/;
const UNIT: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
// a date, optionally a time with a zone; no free-form strings that Date.parse would guess at
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;
/** Years 1970..2999: anything else is a typo, not an audit log time. */
const MIN = 0;
const MAX = Date.UTC(3000, 0, 1);

export function parseTime(v: unknown, now: () => number = Date.now): number {
  let ms: number;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string') {
    const s = v.trim();
    const rel = REL.exec(s);
    if (rel) ms = now() - (rel[1] ? Number(rel[1]) * UNIT[rel[2]!]! : 0);
    else if (/^\d{1,15}$/.test(s)) ms = Number(s);
    else if (ISO.test(s)) ms = Date.parse(s);
    else throw userError(`DateTime: cannot read ${JSON.stringify(s.slice(0, 64))}; use ISO-8601 (2026-01-01T12:00:00Z), epoch milliseconds, or now-24h`);
  } else throw userError('DateTime: expected a string or a number');
  if (!Number.isFinite(ms) || ms < MIN || ms > MAX) throw userError(`DateTime: ${JSON.stringify(v)} is out of range`);
  return Math.floor(ms);
}

export function formatTime(ms: number): string {
  return new Date(ms).toISOString();
}

function literal(ast: ValueNode): unknown {
  if (ast.kind === Kind.STRING) return ast.value;
  if (ast.kind === Kind.INT || ast.kind === Kind.FLOAT) return Number(ast.value);
  throw userError('DateTime: expected a string or a number');
}

/** Internal value is epoch ms (number). */
export const DateTimeScalar = new GraphQLScalarType<number, string>({
  name: 'DateTime',
  serialize: (v) => {
    if (typeof v === 'number') return formatTime(v);
    if (typeof v === 'string') return formatTime(parseTime(v));
    if (v instanceof Date) return v.toISOString();
    throw new TypeError('DateTime cannot serialize ' + typeof v);
  },
  parseValue: (v) => parseTime(v),
  parseLiteral: (ast) => parseTime(literal(ast)),
});

/**
 * The one definition of what a context filter means. `toEsQuery` turns it into an Elasticsearch
 * query over the top-level fields of the contexts index; `matchesFilter` applies the same
 * semantics to a ContextDoc in memory (subscriptions). Field names come only from FIELDS below,
 * never from the client.
 */
import type { ContextDoc, DetectionSeverity, Outcome, SecurityFlag } from '../types/context.ts';
import { userError } from './errors.ts';
import { splitScopedId } from '../clusters/names.ts';

/** Keyword fields a filter (and a facet) can use: filter key → index field and in-memory values. */
export const FIELDS = {
  cluster: { es: 'cluster', values: (c: ContextDoc) => [c.cluster ?? splitScopedId(c.id).cluster] },
  triggeredBy: { es: 'trigger.user', values: (c: ContextDoc) => [c.trigger.user] },
  user: { es: 'users', values: (c: ContextDoc) => c.users },
  group: { es: 'trigger.groups', values: (c: ContextDoc) => c.trigger.groups ?? [] },
  label: { es: 'label', values: (c: ContextDoc) => [c.label] },
  namespace: { es: 'namespaces', values: (c: ContextDoc) => c.namespaces },
  resource: { es: 'resources', values: (c: ContextDoc) => c.resources },
  name: { es: 'names', values: (c: ContextDoc) => c.names },
  verb: { es: 'verbs', values: (c: ContextDoc) => c.verbs },
  client: { es: 'trigger.client', values: (c: ContextDoc) => [c.trigger.client] },
  outcome: { es: 'outcome', values: (c: ContextDoc) => [c.outcome] },
  flag: { es: 'flags', values: (c: ContextDoc) => c.flags },
  detection: { es: 'detections.name', values: (c: ContextDoc) => (c.detections ?? []).map((d) => d.name) },
  severity: { es: 'detections.severity', values: (c: ContextDoc) => (c.detections ?? []).map((d) => d.severity) },
  state: { es: 'state', values: (c: ContextDoc) => [c.state] },
} as const satisfies Record<string, { es: string; values: (c: ContextDoc) => readonly string[] }>;

export type FieldKey = keyof typeof FIELDS;

/**
 * Fields free text searches (simple_query_string): the readable action and keyword fields whose
 * values are words people type. Fixed: clients cannot name fields.
 */
export const TEXT_FIELDS = ['action', 'label', 'names'] as const;

/** A validated filter (internal enum values, epoch ms times). */
export interface Filter {
  cluster?: string[];
  triggeredBy?: string[];
  user?: string[];
  group?: string[];
  label?: string[];
  namespace?: string[];
  resource?: string[];
  name?: string[];
  verb?: string[];
  client?: string[];
  outcome?: Outcome[];
  flag?: SecurityFlag[];
  detection?: string[];
  severity?: DetectionSeverity[];
  state?: Array<ContextDoc['state']>;
  flagged?: boolean;
  from?: number;
  to?: number;
  text?: string;
}

/** Most severe first. */
export const SEVERITY_ORDER: readonly DetectionSeverity[] = ['critical', 'high', 'medium', 'low', 'info'];

export const LIMITS = { values: 100, valueLength: 512, textLength: 256 } as const;

const LIST_KEYS = Object.keys(FIELDS) as FieldKey[];

/**
 * Validates a filter as GraphQL delivers it (enums already mapped to internal values, DateTime
 * parsed to epoch ms). Throws GraphQL errors naming the offending field.
 */
export function normalizeFilter(input: Record<string, unknown> | null | undefined, path = 'filter'): Filter {
  const out: Filter = {};
  if (!input) return out;
  for (const key of LIST_KEYS) {
    let v = input[key];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) v = [v]; // `state` is a single value in the SDL
    const list = v as unknown[];
    if (list.length === 0) throw userError(`${path}.${key}: empty list matches nothing; leave the field out to not filter on it`);
    if (list.length > LIMITS.values) throw userError(`${path}.${key}: at most ${LIMITS.values} values, got ${list.length}`);
    for (const s of list) {
      if (typeof s !== 'string') throw userError(`${path}.${key}: expected strings`);
      if (s.length === 0) throw userError(`${path}.${key}: empty string`);
      if (s.length > LIMITS.valueLength) throw userError(`${path}.${key}: value longer than ${LIMITS.valueLength} characters`);
    }
    (out as Record<string, unknown>)[key] = [...new Set(list as string[])];
  }
  if (input.flagged !== undefined && input.flagged !== null) out.flagged = Boolean(input.flagged);
  if (input.minSeverity !== undefined && input.minSeverity !== null) {
    // "at least HIGH" is the severity list HIGH, CRITICAL (AND-ed with an explicit `severity`)
    const at = SEVERITY_ORDER.indexOf(input.minSeverity as DetectionSeverity);
    if (at < 0) throw userError(`${path}.minSeverity: unknown severity ${JSON.stringify(input.minSeverity)}`);
    const atLeast = SEVERITY_ORDER.slice(0, at + 1);
    out.severity = out.severity ? out.severity.filter((s) => atLeast.includes(s)) : atLeast;
  }
  for (const key of ['from', 'to'] as const) {
    const v = input[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw userError(`${path}.${key}: expected a DateTime`);
    out[key] = v;
  }
  if (out.from !== undefined && out.to !== undefined && out.from >= out.to) {
    throw userError(`${path}: from (${new Date(out.from).toISOString()}) must be before to (${new Date(out.to).toISOString()})`);
  }
  if (input.text !== undefined && input.text !== null) {
    if (typeof input.text !== 'string') throw userError(`${path}.text: expected a string`);
    const t = input.text.trim();
    if (t.length > LIMITS.textLength) throw userError(`${path}.text: at most ${LIMITS.textLength} characters`);
    // control characters have no business in a search box
    if (/[\u0000-\u001f\u007f]/.test(t)) throw userError(`${path}.text: control characters are not allowed`);
    if (t) out.text = t;
  }
  return out;
}

/** Merges two filters with AND semantics (lists intersect where both constrain). */
export function andFilters(a: Filter, b: Filter): Filter {
  const out: Filter = { ...a };
  for (const key of LIST_KEYS) {
    const x = a[key] as string[] | undefined;
    const y = b[key] as string[] | undefined;
    if (x && y) (out as Record<string, unknown>)[key] = x.filter((v) => y.includes(v));
    else if (y) (out as Record<string, unknown>)[key] = y;
  }
  if (b.flagged !== undefined) {
    if (a.flagged !== undefined && a.flagged !== b.flagged) out.flag = [];
    out.flagged = b.flagged;
  }
  if (b.from !== undefined) out.from = a.from === undefined ? b.from : Math.max(a.from, b.from);
  if (b.to !== undefined) out.to = a.to === undefined ? b.to : Math.min(a.to, b.to);
  if (b.text) out.text = a.text ? `(${a.text}) + (${b.text})` : b.text;
  return out;
}

type EsQuery = Record<string, unknown>;

/** Elasticsearch bool query for a filter (filter context: no scoring). */
export function toEsQuery(f: Filter): EsQuery {
  const filter: EsQuery[] = [];
  const mustNot: EsQuery[] = [];
  for (const key of LIST_KEYS) {
    const values = f[key] as string[] | undefined;
    if (!values) continue;
    const field = FIELDS[key].es;
    filter.push(values.length === 1 ? { term: { [field]: values[0] } } : { terms: { [field]: values } });
  }
  if (f.flagged === true) filter.push({ exists: { field: 'flags' } });
  if (f.flagged === false) mustNot.push({ exists: { field: 'flags' } });
  if (f.from !== undefined || f.to !== undefined) {
    const range: Record<string, number | string> = { format: 'epoch_millis' };
    if (f.from !== undefined) range.gte = f.from;
    if (f.to !== undefined) range.lt = f.to;
    filter.push({ range: { start: range } });
  }
  if (f.text) {
    filter.push({
      simple_query_string: {
        query: f.text,
        fields: [...TEXT_FIELDS],
        default_operator: 'and',
        // no fuzzy/slop/near operators (expensive), no field names: the syntax cannot reach other fields
        flags: 'AND|OR|NOT|PHRASE|PREFIX|PRECEDENCE|WHITESPACE|ESCAPE',
        lenient: true,
        analyze_wildcard: false,
      },
    });
  }
  if (!filter.length && !mustNot.length) return { match_all: {} };
  return { bool: { filter, ...(mustNot.length ? { must_not: mustNot } : {}) } };
}

// ---- in memory ---------------------------------------------------------------------------

export function matchesFilter(f: Filter, c: ContextDoc): boolean {
  for (const key of LIST_KEYS) {
    const want = f[key] as string[] | undefined;
    if (!want) continue;
    const have = FIELDS[key].values(c);
    if (!have.some((v) => want.includes(v))) return false;
  }
  if (f.flagged === true && c.flags.length === 0) return false;
  if (f.flagged === false && c.flags.length > 0) return false;
  if (f.from !== undefined && c.start < f.from) return false;
  if (f.to !== undefined && c.start >= f.to) return false;
  if (f.text && !matchesText(f.text, c)) return false;
  return true;
}

/** Lower-cased words of a text, split like Elasticsearch's standard analyzer (roughly). */
function words(s: string): string[] {
  return s.toLowerCase().split(/[^\p{L}\p{N}_.']+/u).flatMap((w) => w.split(/(?<=\p{L})\.(?=\p{L})|^\.|\.$|'/u)).filter(Boolean);
}

interface Term { neg: boolean; raw: string; phrase?: string[]; word?: string; prefix?: boolean }

/**
 * simple_query_string semantics over action (analyzed) and label/names (exact values):
 * `|` separates alternatives, within one all terms must match; `-term` excludes; `"a b"` is a
 * phrase; `word*` a prefix. Parentheses and `+` are treated as plain separators.
 */
export function matchesText(query: string, c: ContextDoc): boolean {
  const actionWords = words(c.action);
  const exact = [c.label, ...c.names];
  const matchTerm = (t: Term): boolean => {
    if (t.prefix) return actionWords.some((a) => a.startsWith(t.word!)) || exact.some((v) => v.startsWith(t.raw));
    if (exact.includes(t.raw)) return true;
    if (t.phrase) {
      const p = t.phrase;
      for (let i = 0; i + p.length <= actionWords.length; i++) if (p.every((w, j) => actionWords[i + j] === w)) return true;
      return false;
    }
    return actionWords.includes(t.word!);
  };
  return query.split('|').some((alt) => {
    const terms = parseTerms(alt);
    if (!terms.length) return false;
    return terms.every((t) => (t.neg ? !matchTerm(t) : matchTerm(t)));
  });
}

function parseTerms(s: string): Term[] {
  const out: Term[] = [];
  const re = /(-?)"([^"]*)"|(-?)([^\s"()+]+)/g;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (m[2] !== undefined) {
      const p = words(m[2]);
      if (p.length) out.push({ neg: m[1] === '-', raw: m[2], phrase: p });
      continue;
    }
    let raw = m[4]!;
    const prefix = raw.endsWith('*');
    if (prefix) raw = raw.slice(0, -1);
    const ws = words(raw);
    if (!ws.length) continue;
    // "apps/deployments" is one exact value for label/names; words for the action
    const neg = m[3] === '-';
    if (prefix) out.push({ neg, raw, word: ws[0]!, prefix });
    else if (ws.length > 1) out.push({ neg, raw, phrase: ws });
    else out.push({ neg, raw, word: ws[0]! });
  }
  return out;
}

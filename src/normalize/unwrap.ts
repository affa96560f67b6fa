/**
 * Finds the audit event(s) in a raw record, whatever carried it:
 * - the event itself (apiserver log line, webhook item, Fluent Bit tail with a JSON parser);
 * - an `EventList` (webhook body, or a record holding one);
 * - Fluent Bit / Fluentd wrappers: the JSON text in `log` / `message` / ... (tail without a
 *   parser, `Key log`), the event's fields merged next to `kubernetes`, `stream`, `time`
 *   (kubernetes filter `Merge_Log On`), or the event as an object under some key
 *   (`Merge_Log_Key`, nested parsers);
 * - JSON text (a string or msgpack bin) of any of these; an array of any of these.
 * Wrapper fields that are not audit fields are removed; the event itself is untouched.
 */
export type Candidate = { event: Record<string, unknown> } | { reject: string };

/** keys whose value commonly holds the whole event as JSON text or an object */
const WRAPPER_KEYS = ['log', 'message', 'msg', 'event', 'audit', 'auditEvent', 'audit_event', 'data', 'record', 'body', 'payload', 'json'];
/** fields log shippers add next to merged event fields; none is an audit.k8s.io/v1 field */
const SHIPPER_KEYS = ['log', 'message', 'msg', 'stream', 'logtag', '_p', 'time', 'date', '@timestamp', 'kubernetes', 'tag', 'filename', 'file', 'host', 'hostname'];
const MAX_DEPTH = 4;
const MAX_KEYS_SCANNED = 64;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** has the identity of an audit event even without kind/apiVersion (merged fields) */
function looksLikeEvent(o: Record<string, unknown>): boolean {
  return o.kind === 'Event' || (o.auditID !== undefined && o.stage !== undefined);
}

function isEventList(o: Record<string, unknown>): boolean {
  return o.kind === 'EventList' && Array.isArray(o.items);
}

function textOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
  return undefined;
}

function stripShipperKeys(o: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const k of SHIPPER_KEYS) {
    if (k in o) { copy ??= { ...o }; delete copy[k]; }
  }
  return copy ?? o;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (isObject(v)) {
    const keys = Object.keys(v);
    return keys.length ? `an object with keys ${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', ...' : ''}` : 'an empty object';
  }
  return `a ${typeof v}`;
}

function fromText(text: string, depth: number): Candidate[] | undefined {
  const t = text.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return undefined;
  let parsed: unknown;
  try { parsed = JSON.parse(t); } catch (e) { return [{ reject: `invalid JSON: ${(e as Error).message}` }]; }
  return unwrapAt(parsed, depth + 1);
}

function hasEvent(c: Candidate[] | undefined): boolean {
  return !!c && c.some((x) => 'event' in x);
}

function unwrapAt(v: unknown, depth: number): Candidate[] {
  if (depth > MAX_DEPTH) return [{ reject: 'audit event wrapped too deeply' }];
  const text = textOf(v);
  if (text !== undefined) return fromText(text, depth) ?? [{ reject: 'not an audit event: text that is not JSON' }];
  if (Array.isArray(v)) return v.flatMap((x) => unwrapAt(x, depth + 1));
  if (!isObject(v)) return [{ reject: `not an audit event: ${describe(v)}` }];
  if (isEventList(v)) {
    return (v.items as unknown[]).map((it, i) => (isObject(it) ? { event: it } : { reject: `EventList item ${i} is ${describe(it)}` }));
  }
  if (looksLikeEvent(v)) return [{ event: stripShipperKeys(v) }];
  let why = '';
  for (const k of WRAPPER_KEYS) {
    if (!(k in v)) continue;
    const inner = v[k];
    const t = textOf(inner);
    const c = t !== undefined ? fromText(t, depth) : isObject(inner) || Array.isArray(inner) ? unwrapAt(inner, depth + 1) : undefined;
    if (c && hasEvent(c)) return c;
    if (!why && c?.[0] && 'reject' in c[0]) why = `; ${k}: ${c[0].reject}`;
  }
  let scanned = 0;
  for (const [k, inner] of Object.entries(v)) {
    if (++scanned > MAX_KEYS_SCANNED) break;
    if (WRAPPER_KEYS.includes(k)) continue;
    if (isObject(inner) && (looksLikeEvent(inner) || isEventList(inner))) return unwrapAt(inner, depth + 1);
    const t = textOf(inner);
    if (t !== undefined && t.includes('"auditID"')) {
      const c = fromText(t, depth);
      if (c && hasEvent(c)) return c;
    }
  }
  return [{ reject: `not an audit event: ${describe(v)} (no auditID/stage${why})` }];
}

/** The audit event candidates in one raw record (validate each with validateEvent). */
export function unwrapRecord(record: unknown): Candidate[] {
  const c = unwrapAt(record, 0);
  return c.length ? c : [{ reject: 'empty: no audit event' }];
}

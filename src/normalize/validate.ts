/**
 * Is this object an audit.k8s.io/v1 Event kontext can use? Checks the identity fields by hand
 * (clear messages) and every other field kontext reads against the table in schema.ts, and
 * says which one is wrong. An event that fails can never succeed on a retry: normalize
 * dead-letters it. Everything kontext does not read passes through untouched.
 */
import type { AuditEvent, AuditStage } from '../types/audit.ts';
import { parseAuditTime } from './time.ts';
import { BODY_RULE, EVENT_FIELDS, LIMITS, check, type Violation } from './schema.ts';

export const STAGE_RANK: Record<AuditStage, number> = { RequestReceived: 0, ResponseStarted: 1, ResponseComplete: 2, Panic: 2 };
const LEVELS = new Set(['None', 'Metadata', 'Request', 'RequestResponse']);
const FIELD_RULES = Object.entries(EVENT_FIELDS);

/** stable reason codes (metric label values) */
export type InvalidCode = 'missing-field' | 'wrong-kind' | 'unsupported-apiversion' | 'bad-timestamp' | Violation['code'];

export type Validated =
  | { ok: true; event: AuditEvent; time: number; rank: number }
  | { ok: false; reason: string; code: InvalidCode; auditID?: string };

function short(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function fail(code: InvalidCode, reason: string, e?: Record<string, unknown>): Validated {
  const id = e?.auditID;
  return typeof id === 'string' && id.length <= LIMITS.auditIdMax && LIMITS.auditIdPattern.test(id) ? { ok: false, code, reason, auditID: id } : { ok: false, code, reason };
}

export function validateEvent(o: unknown): Validated {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return fail('wrong-type', 'not an object');
  const e = o as Record<string, unknown>;
  if (e.kind !== undefined && e.kind !== 'Event') return fail('wrong-kind', `kind is ${short(e.kind)}, expected "Event"`, e);
  if (e.apiVersion !== undefined && e.apiVersion !== 'audit.k8s.io/v1') {
    return fail('unsupported-apiversion', `apiVersion ${short(e.apiVersion)} is not supported (audit.k8s.io/v1)`, e);
  }
  if (e.auditID === undefined) return fail('missing-field', 'missing auditID');
  if (typeof e.auditID !== 'string' || e.auditID === '') return fail('wrong-type', `auditID must be a non-empty string, got ${short(e.auditID)}`);
  if (e.auditID.length > LIMITS.auditIdMax) return fail('too-long', `auditID is ${e.auditID.length} characters, at most ${LIMITS.auditIdMax}`);
  if (!LIMITS.auditIdPattern.test(e.auditID)) return fail('bad-format', `auditID ${short(e.auditID)} has characters outside A-Z a-z 0-9 . _ : @ + = -`);
  if (e.stage === undefined) return fail('missing-field', 'missing stage', e);
  if (typeof e.stage !== 'string' || !(e.stage in STAGE_RANK)) return fail(typeof e.stage === 'string' ? 'bad-format' : 'wrong-type', `invalid stage ${short(e.stage)}`, e);
  if (e.requestReceivedTimestamp === undefined) return fail('missing-field', 'missing requestReceivedTimestamp (with Fluent Bit keep it: Time_Keep On)', e);
  const time = parseAuditTime(e.requestReceivedTimestamp);
  if (!Number.isFinite(time)) return fail('bad-timestamp', `invalid requestReceivedTimestamp ${short(e.requestReceivedTimestamp)} (RFC 3339 expected)`, e);
  if (e.stageTimestamp !== undefined && !Number.isFinite(parseAuditTime(e.stageTimestamp))) return fail('bad-timestamp', `invalid stageTimestamp ${short(e.stageTimestamp)}`, e);
  if (e.verb === undefined) return fail('missing-field', 'missing verb', e);
  if (typeof e.verb !== 'string') return fail('wrong-type', `verb must be a string, got ${short(e.verb)}`, e);
  if (e.verb.length > LIMITS.verbMax) return fail('too-long', `verb is ${e.verb.length} characters, at most ${LIMITS.verbMax}`, e);
  if (e.requestURI === undefined) return fail('missing-field', 'missing requestURI', e);
  if (typeof e.requestURI !== 'string') return fail('wrong-type', `requestURI must be a string, got ${short(e.requestURI)}`, e);
  if (e.requestURI.length > LIMITS.requestUriMax) return fail('too-long', `requestURI is ${e.requestURI.length} characters, at most ${LIMITS.requestUriMax}`, e);
  // failed authentications are audited with an empty user: keep them (they matter), require the object
  if (e.user === undefined) return fail('missing-field', 'missing user', e);
  if (typeof e.user !== 'object' || e.user === null || Array.isArray(e.user)) return fail('wrong-type', `user must be an object, got ${typeName(e.user)}`, e);
  if (e.level !== undefined && (typeof e.level !== 'string' || !LEVELS.has(e.level))) return fail(typeof e.level === 'string' ? 'bad-format' : 'wrong-type', `invalid level ${short(e.level)}`, e);
  for (const [k, rule] of FIELD_RULES) {
    const bad = check(e[k], rule, k);
    if (bad) return fail(bad.code, bad.detail, e);
  }
  for (const k of ['requestObject', 'responseObject'] as const) {
    const b = e[k];
    if (typeof b === 'object' && b !== null && !Array.isArray(b)) {
      const bad = check(b, BODY_RULE, k);
      if (bad) return fail(bad.code, bad.detail, e);
    }
  }
  return { ok: true, event: e as unknown as AuditEvent, time, rank: STAGE_RANK[e.stage as AuditStage] };
}

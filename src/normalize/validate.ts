/**
 * Is this object an audit.k8s.io/v1 Event kontext can use? Checks the fields every stage
 * relies on and says which one is wrong. Everything else passes through untouched.
 */
import type { AuditEvent, AuditStage } from '../types/audit.ts';
import { parseAuditTime } from './time.ts';

export const STAGE_RANK: Record<AuditStage, number> = { RequestReceived: 0, ResponseStarted: 1, ResponseComplete: 2, Panic: 2 };
const LEVELS = new Set(['None', 'Metadata', 'Request', 'RequestResponse']);

export type Validated =
  | { ok: true; event: AuditEvent; time: number; rank: number }
  | { ok: false; reason: string };

function short(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

export function validateEvent(o: unknown): Validated {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return { ok: false, reason: 'not an object' };
  const e = o as Record<string, unknown>;
  if (e.kind !== undefined && e.kind !== 'Event') return { ok: false, reason: `kind is ${short(e.kind)}, expected "Event"` };
  if (e.apiVersion !== undefined && e.apiVersion !== 'audit.k8s.io/v1') {
    return { ok: false, reason: `apiVersion ${short(e.apiVersion)} is not supported (audit.k8s.io/v1)` };
  }
  if (typeof e.auditID !== 'string' || e.auditID === '') return { ok: false, reason: e.auditID === undefined ? 'missing auditID' : `auditID must be a non-empty string, got ${short(e.auditID)}` };
  if (typeof e.stage !== 'string' || !(e.stage in STAGE_RANK)) return { ok: false, reason: e.stage === undefined ? 'missing stage' : `invalid stage ${short(e.stage)}` };
  if (e.requestReceivedTimestamp === undefined) return { ok: false, reason: 'missing requestReceivedTimestamp (with Fluent Bit keep it: Time_Keep On)' };
  const time = parseAuditTime(e.requestReceivedTimestamp);
  if (!Number.isFinite(time)) return { ok: false, reason: `invalid requestReceivedTimestamp ${short(e.requestReceivedTimestamp)} (RFC 3339 expected)` };
  if (e.stageTimestamp !== undefined && !Number.isFinite(parseAuditTime(e.stageTimestamp))) return { ok: false, reason: `invalid stageTimestamp ${short(e.stageTimestamp)}` };
  if (typeof e.verb !== 'string') return { ok: false, reason: e.verb === undefined ? 'missing verb' : `verb must be a string, got ${short(e.verb)}` };
  if (typeof e.requestURI !== 'string') return { ok: false, reason: e.requestURI === undefined ? 'missing requestURI' : `requestURI must be a string, got ${short(e.requestURI)}` };
  // failed authentications are audited with an empty user: keep them (they matter), require the object
  if (typeof e.user !== 'object' || e.user === null || Array.isArray(e.user)) return { ok: false, reason: e.user === undefined ? 'missing user' : 'user must be an object' };
  const u = e.user as Record<string, unknown>;
  if (u.username !== undefined && typeof u.username !== 'string') return { ok: false, reason: 'user.username must be a string' };
  if (e.level !== undefined && (typeof e.level !== 'string' || !LEVELS.has(e.level))) return { ok: false, reason: `invalid level ${short(e.level)}` };
  if (e.objectRef !== undefined && (typeof e.objectRef !== 'object' || e.objectRef === null)) return { ok: false, reason: 'objectRef must be an object' };
  if (e.annotations !== undefined && (typeof e.annotations !== 'object' || e.annotations === null)) return { ok: false, reason: 'annotations must be an object' };
  return { ok: true, event: e as unknown as AuditEvent, time, rank: STAGE_RANK[e.stage as AuditStage] };
}

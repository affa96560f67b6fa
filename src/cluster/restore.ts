/**
 * Open-context state across restarts: contexts read back from the store (store/restore.ts)
 * become clusterer contexts again. Members are stored compact (no bodies), so each becomes
 * an event with just what the clusterer links on: auditID, time, user, verb, objectRef and
 * response code; the trigger gets its full stored identity (groups, user agent, source IPs,
 * impersonation) so the summary written next is the one stored. Every member keeps the
 * context's label, and a re-sent event the store already holds joins its stored context
 * (see Clusterer.restore).
 */
import type { AuditEvent } from '../types/audit.ts';
import type { ContextDoc, ContextMember } from '../types/context.ts';
import { parseLabelKey, type Label } from '../types/label.ts';
import type { LabeledEvent } from '../types/pipeline.ts';
import type { Clusterer, RestoredContext } from './clusterer.ts';
import { decodeState, encodeState } from '../util/snapshot.ts';

function splitResource(resource: string): { apiGroup?: string; resource?: string } {
  if (!resource) return {};
  const i = resource.lastIndexOf('/');
  return i < 0 ? { resource } : { apiGroup: resource.slice(0, i), resource: resource.slice(i + 1) };
}

function memberAudit(m: ContextMember, doc: ContextDoc): AuditEvent {
  const iso = new Date(m.time).toISOString();
  const a: AuditEvent = {
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID: m.auditID, stage: 'ResponseComplete',
    requestURI: '', verb: m.verb, user: { username: m.user },
    objectRef: { ...splitResource(m.resource), ...(m.subresource ? { subresource: m.subresource } : {}), ...(m.namespace ? { namespace: m.namespace } : {}), ...(m.name ? { name: m.name } : {}) },
    responseStatus: { metadata: {}, code: m.code },
    requestReceivedTimestamp: iso, stageTimestamp: iso,
  } as AuditEvent;
  const t = doc.trigger;
  if (t && t.auditID === m.auditID) {
    a.user = { username: t.user, groups: [...(t.groups ?? [])] };
    a.userAgent = t.userAgent;
    a.sourceIPs = [...(t.sourceIPs ?? [])];
    if (t.impersonatedUser) a.impersonatedUser = { username: t.impersonatedUser };
  }
  return a;
}

/** A stored context (with its members) as the clusterer takes it back. */
export function toRestored(doc: ContextDoc): RestoredContext {
  let label: Label;
  try { label = parseLabelKey(doc.label); } catch { label = { kind: 'background', background: 'other' }; }
  const events: LabeledEvent[] = doc.members.map((m) => {
    const e: LabeledEvent = { audit: memberAudit(m, doc), time: m.time, label, labelKey: doc.label, labelSource: 'rule', confidence: doc.confidence ?? 1 };
    if (m.keys?.length) e.linkKeys = [...m.keys];
    return e;
  });
  return { id: doc.id, label: doc.label, state: doc.state, events, flags: [...(doc.flags ?? [])] };
}

/**
 * Puts stored contexts back into the clusterer, and on top of them the session memory of a
 * restart checkpoint (`state`: the text of `snapshotText`, if any); returns how many contexts,
 * and whether the session memory was taken back.
 */
export function restoreContexts(cluster: Clusterer, docs: ContextDoc[], watermark?: number, state?: string): { contexts: number; sessions: boolean } {
  const restored = docs.filter((d) => d.members.length).map(toRestored);
  let snap: unknown;
  if (state !== undefined) { try { snap = decodeState(state); } catch { snap = undefined; } }
  const sessions = cluster.restore(restored, watermark, snap);
  return { contexts: restored.length, sessions };
}

/** The clusterer's session memory as checkpoint text (see snapshot.ts). */
export function snapshotText(cluster: Pick<Clusterer, 'snapshot'>): string {
  return encodeState(cluster.snapshot());
}

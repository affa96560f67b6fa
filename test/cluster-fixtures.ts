/** Hand-made audit events for cluster/store tests. */
import { randomUUID } from 'node:crypto';
import type { AuditEvent, ObjectReference } from '../src/types/audit.ts';
import { TRUTH_CONTEXT_ANNOTATION, TRUTH_LABEL_ANNOTATION } from '../src/types/audit.ts';
import type { LabeledEvent, Receipt } from '../src/types/pipeline.ts';
import { parseLabelKey } from '../src/types/label.ts';

export interface EvSpec {
  user?: string;
  groups?: string[];
  verb?: string;
  ref?: ObjectReference;
  code?: number;
  time: number;
  label?: string;
  context?: string;
  userAgent?: string;
  sourceIPs?: string[];
  requestObject?: unknown;
  responseObject?: unknown;
  impersonate?: string;
  id?: string;
}

export function audit(s: EvSpec): AuditEvent {
  const iso = new Date(s.time).toISOString().replace('Z', '000Z');
  const a: AuditEvent = {
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID: s.id ?? randomUUID(), stage: 'ResponseComplete',
    requestURI: '/api', verb: s.verb ?? 'get',
    user: { username: s.user ?? 'alice', groups: s.groups ?? ['system:authenticated'] },
    sourceIPs: s.sourceIPs ?? ['10.0.0.5'], userAgent: s.userAgent ?? 'kubectl/v1.30.2 (linux/amd64) kubernetes/abc',
    objectRef: s.ref, responseStatus: { metadata: {}, code: s.code ?? 200 },
    requestReceivedTimestamp: iso, stageTimestamp: iso,
    annotations: {},
  };
  if (s.label) a.annotations![TRUTH_LABEL_ANNOTATION] = s.label;
  if (s.context) a.annotations![TRUTH_CONTEXT_ANNOTATION] = s.context;
  if (s.requestObject !== undefined) a.requestObject = s.requestObject;
  if (s.responseObject !== undefined) a.responseObject = s.responseObject;
  if (s.impersonate) a.impersonatedUser = { username: s.impersonate };
  return a;
}

/** Labels an event with its truth label annotation (the "oracle labeler"). */
export function oracle(a: AuditEvent, time?: number, receipt?: Receipt): LabeledEvent {
  const key = a.annotations?.[TRUTH_LABEL_ANNOTATION];
  if (!key) throw new Error(`event ${a.auditID} has no truth label`);
  return {
    audit: a,
    time: time ?? Date.parse(a.requestReceivedTimestamp),
    label: parseLabelKey(key), labelKey: key, labelSource: 'rule', confidence: 1,
    ...(receipt ? { receipt } : {}),
  };
}

export function ev(s: EvSpec & { label: string }, receipt?: Receipt): LabeledEvent {
  return oracle(audit(s), s.time, receipt);
}

/** A receipt that counts settles and failures. */
export interface CountingReceipt extends Receipt { settled: number; failed: Error[] }
export function countingReceipt(): CountingReceipt {
  const r: CountingReceipt = {
    settled: 0, failed: [],
    settle(n = 1) { r.settled += n; },
    fail(err) { r.failed.push(err); },
  };
  return r;
}

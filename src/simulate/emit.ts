/**
 * Turns one simulated API request into the audit.k8s.io/v1 Event record(s) the apiserver
 * would log for it (RequestReceived, ResponseStarted for long-running requests, then
 * ResponseComplete), applying the audit policy's level, and queues them by stageTimestamp.
 */
import type { AuditEvent, AuditLevel } from '../types/audit.ts';
import { TRUTH_CONTEXT_ANNOTATION, TRUTH_LABEL_ANNOTATION } from '../types/audit.ts';
import { applyPolicy, type Policy } from '../k8s/audit-policy.ts';
import type { Actor } from './identity.ts';
import type { TimeQueue } from './queue.ts';
import { resourceInfo, resourcePath, type ResourceInfo } from './resources.ts';
import type { Rng } from './rng.ts';
import { rfc3339Micro } from './time.ts';

export type Verb = 'create' | 'get' | 'list' | 'watch' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface Call {
  actor: Actor;
  /** requestReceivedTimestamp, µs */
  at: number;
  verb: Verb;
  /** resource key ("apps/deployments", "pods"); omitted for non-resource URLs */
  res?: string;
  ns?: string;
  name?: string;
  sub?: string;
  /** non-resource URL path (/api, /apis/apps/v1, /healthz, /openapi/v3 ...) */
  path?: string;
  /** query string without "?" */
  query?: string;
  /** HTTP status; default 201 for create, else 200 */
  code?: number;
  /** status message for failures; a realistic one is derived when omitted */
  message?: string;
  /** Status reason for failures (Conflict, AlreadyExists, NotFound, Invalid, Forbidden ...) */
  reason?: string;
  req?: unknown;
  resp?: unknown;
  level?: AuditLevel;
  /** apiserver latency until the response (µs); drawn when omitted */
  latency?: number;
  /** long-running requests (watch, exec, log): time between ResponseStarted and ResponseComplete */
  duration?: number;
  auditID?: string;
  annotations?: Record<string, string>;
  impersonate?: { username: string; groups?: string[] };
  /** long-running request still open when the capture ends: no ResponseComplete record */
  openEnded?: boolean;
}

export interface Truth { label: string; context: string; background: boolean }

export interface EmitStats { action: number; background: number; records: number }

const LONG_RUNNING_SUBS = new Set(['exec', 'attach', 'portforward', 'proxy', 'log']);

/**
 * The simulator's default audit policy (no `policy` option): what each request is logged at.
 * Like `kubeadm-gke-default` without its dropped requests.
 */
export function policyLevel(c: Call): AuditLevel {
  if (!c.res) return 'Metadata';
  if (c.res === 'secrets' || c.res === 'authentication.k8s.io/tokenreviews' || c.sub === 'token') return 'Metadata';
  if (c.verb === 'get' || c.verb === 'list' || c.verb === 'watch') return c.sub === 'exec' || c.sub === 'attach' ? 'RequestResponse' : 'Request';
  return 'RequestResponse';
}

function defaultLatency(c: Call, rng: Rng): number {
  if (!c.res) return rng.around(900, 0.5, 150, 20_000);
  switch (c.verb) {
    case 'get': return rng.around(1_600, 0.5, 300, 40_000);
    case 'list': return rng.around(3_500, 0.6, 500, 120_000);
    case 'watch': return rng.around(1_000, 0.4, 200, 10_000);
    case 'create': return rng.around(4_500, 0.45, 1_200, 60_000);
    case 'deletecollection': return rng.around(12_000, 0.6, 2_000, 300_000);
    default: return rng.around(3_800, 0.45, 900, 60_000);
  }
}

export function groupKind(r: ResourceInfo): string { return r.group ? `${r.resource}.${r.group}` : r.resource; }

/** Status message and reason the apiserver writes for a failed request. */
export function failureStatus(c: Call, code: number): { reason: string; message: string; details: Record<string, unknown> } {
  const r = c.res ? resourceInfo(c.res) : undefined;
  const what = r ? groupKind(r) : '';
  const name = c.name ?? (c.req as any)?.metadata?.name ?? '';
  const details: Record<string, unknown> = r ? { ...(name ? { name } : {}), ...(r.group ? { group: r.group } : {}), kind: r.resource } : {};
  switch (code) {
    case 403: {
      const res = c.sub ? `${r?.resource}/${c.sub}` : r?.resource;
      const where = r?.namespaced && c.ns ? ` in the namespace "${c.ns}"` : r ? ' at the cluster scope' : '';
      const base = r ? `${what}${name && c.verb !== 'create' ? ` "${name}"` : ''} is forbidden` : 'forbidden';
      return { reason: c.reason ?? 'Forbidden', details, message: c.message ?? `${base}: User "${c.actor.username}" cannot ${c.verb} resource "${res}" in API group "${r?.group ?? ''}"${where}` };
    }
    case 404: return { reason: c.reason ?? 'NotFound', details, message: c.message ?? `${what} "${name}" not found` };
    case 409:
      if (c.reason === 'AlreadyExists' || (c.verb === 'create' && !c.reason)) return { reason: 'AlreadyExists', details, message: c.message ?? `${what} "${name}" already exists` };
      return { reason: c.reason ?? 'Conflict', details, message: c.message ?? `Operation cannot be fulfilled on ${what} "${name}": the object has been modified; please apply your changes to the latest version and try again` };
    case 422: return { reason: 'Invalid', details: { ...details, causes: [{ reason: 'FieldValueInvalid', message: (c.message ?? 'Invalid value').replace(/^.*?: /, ''), field: 'spec' }] }, message: c.message ?? `${r?.kind ?? 'Object'}.${r?.group || 'core'} "${name}" is invalid` };
    case 429: return { reason: 'TooManyRequests', details: { retryAfterSeconds: 1 }, message: c.message ?? 'Too many requests, please try again later.' };
    default: return { reason: c.reason ?? 'InternalError', details, message: c.message ?? `Internal error occurred: ${what}` };
  }
}

export class Emitter {
  readonly stats: EmitStats = { action: 0, background: 0, records: 0 };
  constructor(
    private readonly queue: TimeQueue<AuditEvent>,
    private readonly rng: Rng,
    private readonly allStages: boolean,
    /** an audit policy: records are built at RequestResponse, then logged as the policy says */
    private readonly policy?: Policy,
  ) {}

  /** Queues the record(s) of one request. Returns the µs time its response completed. */
  emit(c: Call, truth: Truth, rng: Rng = this.rng): number {
    const r = c.res ? resourceInfo(c.res) : undefined;
    const code = c.code ?? (c.verb === 'create' ? 201 : 200);
    const latency = Math.round(c.latency ?? defaultLatency(c, rng));
    const auditID = c.auditID ?? rng.uuid();
    const level = this.policy ? 'RequestResponse' : c.level ?? policyLevel(c);
    const longRunning = c.verb === 'watch' || (c.sub !== undefined && LONG_RUNNING_SUBS.has(c.sub));
    const startedAt = c.at + latency;
    const completeAt = startedAt + (longRunning ? Math.round(c.duration ?? 0) : 0);

    const path = r ? resourcePath(r, c.ns, c.verb === 'create' && !c.sub ? undefined : c.name, c.sub) : c.path!;
    const requestURI = c.query ? `${path}?${c.query}` : path;
    const truthAnn = { [TRUTH_LABEL_ANNOTATION]: truth.label, [TRUTH_CONTEXT_ANNOTATION]: truth.context };

    const objectRef = r ? {
      resource: r.resource,
      ...(r.namespaced && c.ns ? { namespace: c.ns } : {}),
      ...(c.name && !(c.verb === 'create' && !c.sub) ? { name: c.name } : {}),
      ...(r.group ? { apiGroup: r.group } : {}),
      apiVersion: r.version,
      ...(c.sub ? { subresource: c.sub } : {}),
    } as NonNullable<AuditEvent['objectRef']> : undefined;

    const base = (): AuditEvent => {
      const ev: AuditEvent = {
        kind: 'Event', apiVersion: 'audit.k8s.io/v1', level, auditID, stage: 'RequestReceived', requestURI, verb: c.verb,
        user: userInfo(c.actor),
        ...(c.impersonate ? { impersonatedUser: { username: c.impersonate.username, ...(c.impersonate.groups ? { groups: c.impersonate.groups } : {}) } } : {}),
        sourceIPs: [c.actor.ip], userAgent: c.actor.userAgent,
        requestReceivedTimestamp: '', stageTimestamp: '',
      };
      if (!r) ev.verb = 'get';
      if (objectRef) ev.objectRef = { ...objectRef };
      return ev;
    };
    const received = rfc3339Micro(c.at);

    if (this.allStages) {
      const ev = base();
      ev.requestReceivedTimestamp = received; ev.stageTimestamp = received;
      ev.annotations = { ...truthAnn };
      this.push(c.at, ev);
    }

    const forbidden = code === 403 && !c.reason;
    const authz: Record<string, string> = forbidden
      ? { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' }
      : { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': c.actor.reason };
    const annotations = { ...authz, ...(c.annotations ?? {}), ...truthAnn };

    if (this.allStages && longRunning) {
      const ev = base();
      ev.stage = 'ResponseStarted';
      ev.requestReceivedTimestamp = received; ev.stageTimestamp = rfc3339Micro(startedAt);
      ev.responseStatus = { metadata: {}, code: c.sub && c.sub !== 'log' ? 101 : 200 };
      ev.annotations = annotations;
      this.push(startedAt, ev);
    }

    if (c.openEnded) {
      if (this.allStages) { if (truth.background) this.stats.background++; else this.stats.action++; }
      return completeAt;
    }
    const ev = base();
    ev.stage = 'ResponseComplete';
    ev.requestReceivedTimestamp = received; ev.stageTimestamp = rfc3339Micro(completeAt);
    // the audit filter fills name/namespace/uid/resourceVersion from the request body
    const meta = (c.req as any)?.metadata;
    if (ev.objectRef && meta && !forbidden) {
      if (!ev.objectRef.namespace && meta.namespace && r?.namespaced) ev.objectRef.namespace = meta.namespace;
      if (!ev.objectRef.name && meta.name) ev.objectRef.name = meta.name;
      if (meta.uid) ev.objectRef.uid = meta.uid;
      if (meta.resourceVersion) ev.objectRef.resourceVersion = meta.resourceVersion;
    }
    if (ev.objectRef) ev.objectRef = orderRef(ev.objectRef);
    if (code < 300 || code === 101) {
      ev.responseStatus = { metadata: {}, code };
      const resp = c.resp as any;
      if (resp?.kind === 'Status' && resp.status === 'Success') ev.responseStatus = { metadata: {}, status: 'Success', ...(resp.details ? { details: resp.details } : {}), code };
    } else {
      const f = failureStatus(c, code);
      ev.responseStatus = { metadata: {}, status: 'Failure', message: f.message, reason: f.reason, details: f.details, code };
    }
    if (!forbidden && (level === 'Request' || level === 'RequestResponse') && c.req !== undefined) ev.requestObject = c.req;
    if (!forbidden && level === 'RequestResponse') {
      if (code < 300 && c.resp !== undefined) ev.responseObject = c.resp;
      else if (code >= 300) {
        const f = failureStatus(c, code);
        ev.responseObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: f.message, reason: f.reason, details: f.details, code };
      }
    }
    ev.annotations = annotations;
    this.push(completeAt, ev);

    if (truth.background) this.stats.background++; else this.stats.action++;
    return completeAt;
  }

  private push(t: number, ev: AuditEvent): void {
    // stats count every request the cluster served, logged or not, so that pacing (and with
    // it the traffic) is the same under every policy
    this.stats.records++;
    const logged = this.policy ? applyPolicy(this.policy, ev) : ev;
    if (logged) this.queue.push(t, logged);
  }
}

function userInfo(a: Actor): AuditEvent['user'] {
  return { username: a.username, ...(a.uid ? { uid: a.uid } : {}), groups: a.groups, ...(a.extra ? { extra: a.extra } : {}) };
}

function orderRef(o: NonNullable<AuditEvent['objectRef']>): NonNullable<AuditEvent['objectRef']> {
  const out: NonNullable<AuditEvent['objectRef']> = { resource: o.resource };
  if (o.namespace) out.namespace = o.namespace;
  if (o.name) out.name = o.name;
  if (o.uid) out.uid = o.uid;
  if (o.apiGroup) out.apiGroup = o.apiGroup;
  out.apiVersion = o.apiVersion;
  if (o.resourceVersion) out.resourceVersion = o.resourceVersion;
  if (o.subresource) out.subresource = o.subresource;
  return out;
}

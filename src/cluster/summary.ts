/**
 * Context summaries: a pure function from a context's events to the ContextDoc kontext
 * stores and serves. The clusterer calls it whenever a context changes; tests and the query
 * layer call it to build contexts from simulator ground truth.
 */
import type { AuditEvent } from '../types/audit.ts';
import type { LabeledEvent } from '../types/pipeline.ts';
import type { ContextDoc, ContextMember, KeyCount, Outcome, SecurityFlag, TriggerInfo } from '../types/context.ts';
import { verbClassOf } from '../types/label.ts';
import { clientOf, isPerson, isSystemUser } from '../k8s/identity.ts';
import { singular } from '../k8s/resources.ts';
import { helmRefOf } from '../k8s/helm.ts';
import { opLabel } from '../k8s/ops.ts';
import { statelessDetector, type Detector } from '../detect/index.ts';

/** Forbidden (401/403) answers in one context from which `forbidden-burst` is raised. */
export const FORBIDDEN_BURST = 3;

export { isSystemUser, isPerson, clientOf } from '../k8s/identity.ts';
export { singular } from '../k8s/resources.ts';

/** "<apiGroup>/<resource>" for named groups, "<resource>" for the core group ("" when none). */
export function resourceOf(a: AuditEvent): string {
  const r = a.objectRef;
  if (!r?.resource) return '';
  return r.apiGroup ? `${r.apiGroup}/${r.resource}` : r.resource;
}

/** Response code; 0 when the event has none. */
export function codeOf(a: AuditEvent): number {
  return a.responseStatus?.code ?? 0;
}

export function toMember(e: LabeledEvent | { audit: AuditEvent; time: number }): ContextMember {
  const a = e.audit;
  const r = a.objectRef;
  const m: ContextMember = {
    auditID: a.auditID,
    time: Math.floor(e.time),
    user: a.user?.username ?? '',
    verb: a.verb,
    resource: resourceOf(a),
    code: codeOf(a),
  };
  if (r?.subresource) m.subresource = r.subresource;
  if (r?.namespace) m.namespace = r.namespace;
  if (r?.name) m.name = r.name;
  const keys = (e as LabeledEvent).linkKeys;
  if (keys?.length) m.keys = keys;
  return m;
}

export function isForbidden(code: number): boolean { return code === 401 || code === 403; }

/**
 * A failed request that is part of normal control-plane life and says nothing about the
 * outcome of the action: not-found on reads/deletes (controllers probe before they create,
 * garbage collection races) and optimistic-concurrency conflicts of system components.
 */
function isBenignFailure(m: ContextMember): boolean {
  if (m.code === 404 && (m.verb === 'get' || m.verb === 'list' || m.verb === 'watch' || m.verb === 'delete')) return true;
  if (m.code === 409 && isSystemUser(m.user)) return true;
  return false;
}

export function isFailure(m: ContextMember): boolean {
  return m.code >= 400 && !isForbidden(m.code) && !isBenignFailure(m);
}

/** Whether the event is the operation its label names (same verb class and resource). */
function matchesLabel(e: LabeledEvent): boolean {
  const l = e.label;
  if (!l || l.kind !== 'trigger') return false;
  const a = e.audit;
  if (verbClassOf(a.verb) !== l.verbClass) return false;
  if (resourceOf(a) !== l.resource) return false;
  if ((a.objectRef?.subresource ?? undefined) !== (l.subresource ?? undefined)) return false;
  const hasName = Boolean(a.objectRef?.name);
  if (l.scope === 'list' ? hasName && a.verb !== 'create' : !hasName && a.verb !== 'create') return false;
  return true;
}

/** A person's change of a helm release record that took effect: it names the helm command (install, upgrade, uninstall). */
function isReleaseChange(a: AuditEvent): boolean {
  const ref = helmRefOf(a);
  return ref?.via === 'record' && MUTATING.has(a.verb) && codeOf(a) > 0 && codeOf(a) < 400 && isPerson(a);
}

/**
 * The event that stands for the action: a person's first change of a helm release record
 * (the release is the action); else the earliest event of a person (see isPerson) that
 * performs the labeled operation; else the earliest one performing it; else the earliest
 * event of a person; else the earliest event.
 */
export function pickTrigger(events: readonly LabeledEvent[]): LabeledEvent {
  if (!events.length) throw new Error('pickTrigger: a context has at least one event');
  let best: LabeledEvent | undefined; let bestRank = 9;
  for (const e of events) {
    const user = isPerson(e.audit);
    const match = matchesLabel(e);
    const rank = isReleaseChange(e.audit) ? -1 : match && user ? 0 : match ? 1 : user ? 2 : 3;
    if (rank < bestRank || (rank === bestRank && e.time < best!.time)) { best = e; bestRank = rank; }
  }
  return best!;
}

function triggerInfo(e: LabeledEvent): TriggerInfo {
  const a = e.audit;
  const r = a.objectRef;
  const t: TriggerInfo = {
    auditID: a.auditID,
    user: a.user?.username ?? '',
    groups: [...(a.user?.groups ?? [])],
    userAgent: a.userAgent ?? '',
    client: clientOf(a.userAgent),
    sourceIPs: [...(a.sourceIPs ?? [])],
    verb: a.verb,
    apiGroup: r?.apiGroup ?? '',
    resource: r?.resource ?? '',
    code: codeOf(a),
  };
  if (r?.subresource) t.subresource = r.subresource;
  if (r?.namespace) t.namespace = r.namespace;
  if (r?.name) t.name = r.name;
  if (a.impersonatedUser?.username) t.impersonatedUser = a.impersonatedUser.username;
  if (a.level) t.level = a.level;
  return t;
}

const PAST: Record<string, string> = {
  create: 'created', delete: 'deleted', deletecollection: 'deleted', patch: 'patched', update: 'updated',
  get: 'read', list: 'listed', watch: 'watched', approve: 'approved',
};
const INFINITIVE: Record<string, string> = { deletecollection: 'delete', get: 'read' };

/** Readable sentence for a context, e.g. "alice created deployment shop/web". */
export function describeAction(t: TriggerInfo, opts: { background?: string; eventCount: number; users?: string[] }): string {
  if (opts.background) {
    const who = (opts.users ?? []).length > 1 ? `${t.user} and ${(opts.users!.length - 1)} more` : t.user || 'unknown';
    return `background ${opts.background} traffic by ${who} (${opts.eventCount} event${opts.eventCount === 1 ? '' : 's'})`;
  }
  const user = t.user || 'unknown user';
  const rec = t.resource === 'secrets' && !t.apiGroup ? helmRefOf({ verb: t.verb, requestURI: '', objectRef: { resource: 'secrets', namespace: t.namespace, name: t.name } } as AuditEvent) : undefined;
  if (rec?.via === 'record' && t.code < 400) {
    const what = t.verb === 'create' ? (rec.version === 1 ? 'installed' : 'upgraded') : t.verb === 'delete' ? 'uninstalled' : 'updated';
    return `${user} ${what} helm release ${t.namespace ? `${t.namespace}/` : ''}${rec.release}${t.verb === 'create' && rec.version && rec.version > 1 ? ` (revision ${rec.version})` : ''}`;
  }
  const kind = t.resource ? singular(t.resource) : '';
  const where = t.name ? ` ${t.namespace ? `${t.namespace}/` : ''}${t.name}` : '';
  const inNs = t.namespace ? ` in ${t.namespace}` : '';
  const failed = t.code >= 400;
  let phrase: string;
  const sub = t.subresource;
  if (!t.resource) {
    phrase = failed ? `tried to ${t.verb}` : `${PAST[t.verb] ?? t.verb}`;
    phrase += ' non-resource URL';
  } else if (sub === 'exec' || sub === 'attach' || sub === 'portforward' || sub === 'proxy') {
    const what = { exec: 'exec into', attach: 'attach to', portforward: 'port-forward to', proxy: 'proxy to' }[sub];
    const done = { exec: 'exec\'d into', attach: 'attached to', portforward: 'port-forwarded to', proxy: 'proxied to' }[sub];
    phrase = `${failed ? `tried to ${what}` : done} ${kind}${where}`;
  } else if (sub === 'log') {
    phrase = `${failed ? 'tried to read' : 'read'} logs of ${kind}${where}`;
  } else if (sub === 'scale' && t.verb !== 'get') {
    phrase = `${failed ? 'tried to scale' : 'scaled'} ${kind}${where}`;
  } else if (sub === 'approval') {
    phrase = `${failed ? 'tried to approve' : 'approved'} ${kind}${where}`;
  } else if (sub) {
    phrase = `${failed ? `tried to ${INFINITIVE[t.verb] ?? t.verb}` : PAST[t.verb] ?? t.verb} ${sub} of ${kind}${where}`;
  } else if (!t.name && t.verb !== 'create') {
    const all = t.verb === 'deletecollection' || t.verb === 'delete' ? 'all ' : '';
    phrase = `${failed ? `tried to ${INFINITIVE[t.verb] ?? t.verb}` : PAST[t.verb] ?? t.verb} ${all}${t.resource}${inNs}`;
  } else {
    phrase = `${failed ? `tried to ${INFINITIVE[t.verb] ?? t.verb}` : PAST[t.verb] ?? t.verb} ${kind}${where || inNs}`;
  }
  let s = `${user} ${phrase}`;
  const client = t.client.split('/')[0];
  if (client && client !== 'kubectl' && !client.startsWith('kube-') && client !== 'kubelet' && !isSystemUser(t.user)) s += ` via ${client}`;
  if (failed) s += ` (${t.code})`;
  return s;
}

function countBy(values: Iterable<string>): KeyCount[] {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return [...m].map(([key, count]) => ({ key, count }))
    .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function distinct(values: Iterable<string | undefined>): string[] {
  const s = new Set<string>();
  for (const v of values) if (v) s.add(v);
  return [...s].sort();
}

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const MUTATING = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
const WORKLOAD_TEMPLATES = new Set(['deployments', 'daemonsets', 'statefulsets', 'replicasets', 'jobs', 'replicationcontrollers']);

/** Pod spec inside a pod, a workload template or a cronjob. */
function podSpecOf(a: AuditEvent): any {
  const obj = a.requestObject;
  const res = a.objectRef?.resource;
  if (!obj || typeof obj !== 'object' || !res || a.objectRef?.subresource) return undefined;
  if (res === 'pods') return obj.spec;
  if (WORKLOAD_TEMPLATES.has(res)) return obj.spec?.template?.spec;
  if (res === 'cronjobs') return obj.spec?.jobTemplate?.spec?.template?.spec;
  return undefined;
}

function isPrivilegedSpec(spec: any): boolean {
  if (!spec || typeof spec !== 'object') return false;
  if (spec.hostPID === true || spec.hostNetwork === true || spec.hostIPC === true) return true;
  if (Array.isArray(spec.volumes) && spec.volumes.some((v: any) => v && typeof v === 'object' && v.hostPath)) return true;
  const containers = [...(Array.isArray(spec.containers) ? spec.containers : []), ...(Array.isArray(spec.initContainers) ? spec.initContainers : []), ...(Array.isArray(spec.ephemeralContainers) ? spec.ephemeralContainers : [])];
  return containers.some((c: any) => c?.securityContext?.privileged === true
    || (Array.isArray(c?.securityContext?.capabilities?.add) && c.securityContext.capabilities.add.includes('SYS_ADMIN')));
}

/** Security flags raised by one event (forbidden-burst is decided per context). */
export function eventFlags(a: AuditEvent): SecurityFlag[] {
  const out: SecurityFlag[] = [];
  const r = a.objectRef;
  const user = a.user?.username ?? '';
  const code = codeOf(a);
  const ok = code > 0 && code < 400;
  const sub = r?.subresource;
  if (r?.resource === 'secrets' && !r.apiGroup && (a.verb === 'get' || a.verb === 'list' || a.verb === 'watch') && ok && !isSystemUser(user)) out.push('secret-read');
  if (r?.resource === 'pods' && sub === 'exec') out.push('exec');
  if (r?.resource === 'pods' && sub === 'attach') out.push('attach');
  if ((r?.resource === 'pods' && (sub === 'portforward' || sub === 'proxy')) || (r?.resource === 'services' && sub === 'proxy') || (r?.resource === 'nodes' && sub === 'proxy')) out.push('portforward');
  if (r?.apiGroup === RBAC_GROUP && MUTATING.has(a.verb) && !isSystemUser(user)) out.push('rbac-change');
  if (r?.resource === 'certificatesigningrequests' && sub === 'approval' && (a.verb === 'update' || a.verb === 'patch')) out.push('csr-approval');
  if (user === 'system:anonymous' || (a.user?.groups ?? []).includes('system:unauthenticated')) out.push('anonymous');
  if (a.impersonatedUser) out.push('impersonation');
  if ((a.verb === 'create' || a.verb === 'update' || a.verb === 'patch') && isPrivilegedSpec(podSpecOf(a))) out.push('privileged-pod');
  return out;
}

/** What a context document derives from its members (sorted by time): span, distinct values and counts. */
export function memberAggregates(members: ContextMember[]): Pick<ContextDoc, 'start' | 'end' | 'eventCount' | 'users' | 'namespaces' | 'resources' | 'names' | 'verbs' | 'counts'> {
  const resKey = (m: ContextMember) => (m.subresource ? `${m.resource}/${m.subresource}` : m.resource);
  return {
    start: members[0]!.time,
    end: members[members.length - 1]!.time,
    eventCount: members.length,
    users: distinct(members.map((m) => m.user)),
    namespaces: distinct(members.map((m) => m.namespace)),
    resources: distinct(members.map(resKey)),
    names: distinct(members.map((m) => m.name)),
    verbs: distinct(members.map((m) => m.verb)),
    counts: {
      verbs: countBy(members.map((m) => m.verb)),
      resources: countBy(members.map((m) => resKey(m) || '(none)')),
      users: countBy(members.map((m) => m.user)),
      codes: countBy(members.map((m) => String(m.code))),
    },
  };
}

/** A context's outcome: its trigger's answer for an action, the members' answers for background traffic. */
export function outcomeOf(trigger: TriggerInfo, background: boolean, n: number, forbidden: number, failures: number): Outcome {
  if (!background) {
    return isForbidden(trigger.code) ? 'forbidden' : trigger.code >= 400 ? 'failure' : forbidden + failures > 0 ? 'partial' : 'success';
  }
  return forbidden === n ? 'forbidden' : failures + forbidden === n ? 'failure' : forbidden + failures > 0 ? 'partial' : 'success';
}

export const FLAG_ORDER: SecurityFlag[] = ['secret-read', 'exec', 'attach', 'portforward', 'rbac-change', 'csr-approval', 'anonymous', 'forbidden-burst', 'impersonation', 'privileged-pod'];

/**
 * Builds the stored document of a context. `events` may be in any order; members are sorted
 * by event time. Pure (same input, same output) except for the detections of a stateful
 * `detector`, which depend on what it observed before; without one, the shipped event and
 * context detections are evaluated.
 */
export function summarize(id: string, events: LabeledEvent[], state: 'open' | 'closed', detector: Detector = statelessDetector()): ContextDoc {
  if (!events.length) throw new Error(`summarize(${id}): a context has at least one event`);
  const sorted = [...events].sort((a, b) => a.time - b.time || (a.audit.auditID < b.audit.auditID ? -1 : 1));
  const members = sorted.map(toMember);

  // label: the most frequent label among members (they normally all agree), ties → trigger's
  const labelCounts = countBy(sorted.map((e) => e.labelKey));
  const trig = pickTrigger(sorted);
  const top = labelCounts[0]!;
  // a helm release is labeled by its command's release record change, whatever its members say
  const label = isReleaseChange(trig.audit) ? opLabel(trig.audit)
    : labelCounts.filter((c) => c.count === top.count).some((c) => c.key === trig.labelKey) ? trig.labelKey : top.key;
  const background = label.startsWith('background ') ? label.slice('background '.length) : undefined;

  const trigger = triggerInfo(trig);
  let forbidden = 0; let failures = 0;
  const flags = new Set<SecurityFlag>();
  for (let i = 0; i < sorted.length; i++) {
    const m = members[i]!;
    if (isForbidden(m.code)) forbidden++;
    else if (isFailure(m)) failures++;
    for (const f of eventFlags(sorted[i]!.audit)) flags.add(f);
  }
  if (forbidden >= FORBIDDEN_BURST) flags.add('forbidden-burst');

  const outcome = outcomeOf(trigger, background !== undefined, members.length, forbidden, failures);

  const aggregates = memberAggregates(members);
  let confidence = 0;
  for (const e of sorted) confidence += e.confidence ?? 1;
  confidence = Math.round((confidence / sorted.length) * 1000) / 1000;

  const doc: Omit<ContextDoc, 'detections'> = {
    id,
    label,
    action: describeAction(trigger, { background, eventCount: members.length, users: aggregates.users }),
    state,
    trigger,
    ...aggregates,
    outcome,
    failures,
    forbidden,
    flags: FLAG_ORDER.filter((f) => flags.has(f)),
    members,
    confidence,
  };
  return { ...doc, detections: detector.detect(sorted, doc) };
}

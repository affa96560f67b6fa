/**
 * Stateful detections: what a per-event engine cannot express because the evidence is spread
 * over several requests, often in different contexts, by different users. The engine feeds
 * every event to `observe` in event-time order (before the clusterer strips bodies); each
 * correlation first checks the event against what it remembers, then updates its memory.
 *
 * Memory is bounded: every table is an LRU (`lru-cache`) with a maximum size, and windows are
 * measured in event time (so replays of old logs behave like live traffic). It lives in the
 * process: after a restart the correlations start empty.
 */
import { LRUCache } from 'lru-cache';
import { dumpLru, loadLru } from '../util/snapshot.ts';
import type { AuditEvent } from '../types/audit.ts';
import { isPerson, isSystemUser } from '../cluster/summary.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

/**
 * Every parameter of the correlations, with why it has the value it has.
 */
export const CORRELATION_PARAMS = {
  privilegedPodExec: {
    /**
     * Pods remembered. A privileged or host-mounting pod is rare (node agents, CNI, debugging
     * pods): even large clusters run a few thousand; 50 000 keeps all of them with room to
     * spare at ~200 bytes each (~10 MB).
     */
    maxPods: 50_000,
  },
  forbiddenProbe: {
    /**
     * 403s on one resource that make a probe. kubectl itself never retries a 403, and a person
     * who mistypes a namespace or lacks a role gets one or two; enumeration by hand or by tools
     * (kubectl-who-can, peirates, kube-hunter) walks namespaces and verbs and collects many.
     */
    forbidden: 5,
    /** Probing is interactive or scripted: minutes, not hours. */
    windowMs: 10 * MIN,
    maxKeys: 50_000,
  },
  adminBindingUse: {
    /**
     * How long after a binding to cluster-admin (or a wildcard role) the subject's first
     * request counts as using it. An escalation is used right away (the point of it); a
     * standing admin binding used days later is ordinary administration, visible by its user.
     * Only the first use is reported.
     */
    windowMs: HOUR,
    maxSubjects: 10_000,
  },
  secretsSweep: {
    /**
     * Distinct namespaces in which one person (see isPerson) reads secrets. Applications read their own
     * namespace's secrets and operators work in one or two namespaces per task; collecting
     * credentials across the cluster is a classic step after gaining read access.
     */
    namespaces: 5,
    /** One sweep, scripted or by hand. */
    windowMs: 10 * MIN,
    maxUsers: 10_000,
  },
  tokenNewIp: {
    /**
     * A token minted by a person (TokenRequest, `kubectl create token`) is short-lived (1 h by
     * default, `--duration` can extend it); its first use from an address the account has not
     * used before is what exfiltration looks like. Tokens kubelets request for pods are not
     * counted: pods legitimately start on new IPs.
     */
    windowMs: HOUR,
    /** Addresses remembered per account: pods of a deployment, nodes, a few CI runners. */
    ipsPerAccount: 64,
    maxAccounts: 20_000,
  },
  coverTracks: {
    /**
     * How long after a flagged action the same person's deletion of webhooks, policies or RBAC
     * counts as covering tracks: an intruder cleans up within the same session.
     */
    windowMs: HOUR,
    /** A flagged action is a detection of at least this severity ... */
    minSeverity: 'medium' as const,
    /** ... other than these, which fire on who the user is, not on what they did. */
    ignore: ['disallowed-k8s-user', 'full-k8s-admin-access', 'create-disallowed-namespace'],
    maxUsers: 10_000,
    /**
     * A deletion followed this soon by the same person creating the same object again is a
     * re-install (helm's `before-hook-creation` policy deletes a hook's RBAC and creates it
     * anew within one command): not reported. Below the default contextIdle (60 s), so the
     * re-create is seen before the context's final write.
     */
    recreateMs: 30_000,
    /** recently created webhooks/policies/RBAC remembered, so deleting one's own fresh objects is not covering tracks */
    maxCreated: 20_000,
  },
} as const;

export type CorrelationParams = typeof CORRELATION_PARAMS;

/** One event as the correlations see it. */
export interface Observed {
  audit: AuditEvent;
  time: number;
  /** names of the detections the event matched so far (event detections, then earlier correlations) */
  matched: string[];
  /** whether `matched` contains a detection that counts as a flagged action (see coverTracks) */
  flagged: boolean;
}

/** Lists of the rules files correlations read (so users can extend them). */
export interface CorrelationLists {
  get(name: string): readonly string[] | undefined;
}

const code = (a: AuditEvent) => a.responseStatus?.code ?? 0;
const ok = (a: AuditEvent) => { const c = code(a); return c > 0 && c < 400; };
const userOf = (a: AuditEvent) => a.user?.username ?? '';
const resourceKey = (a: AuditEvent) => {
  const r = a.objectRef;
  if (!r?.resource) return '';
  return `${r.apiGroup ? `${r.apiGroup}/` : ''}${r.resource}${r.subresource ? `/${r.subresource}` : ''}`;
};

function podName(a: AuditEvent): { ns: string; name: string } | undefined {
  const name = a.objectRef?.name ?? a.responseObject?.metadata?.name ?? a.requestObject?.metadata?.name;
  const ns = a.objectRef?.namespace ?? a.requestObject?.metadata?.namespace ?? a.responseObject?.metadata?.namespace;
  return typeof name === 'string' && typeof ns === 'string' ? { ns, name } : undefined;
}

/** Why a pod spec is dangerous to exec into: privileged, host namespaces, a sensitive host path. */
export function dangerousPodSpec(spec: any, sensitivePaths: readonly string[]): string | undefined {
  if (!spec || typeof spec !== 'object') return undefined;
  const containers = ['containers', 'initContainers', 'ephemeralContainers'].flatMap((k) => (Array.isArray(spec[k]) ? spec[k] : []));
  if (containers.some((c: any) => c?.securityContext?.privileged === true)) return 'privileged';
  if (spec.hostPID === true) return 'hostPID';
  if (spec.hostIPC === true) return 'hostIPC';
  if (spec.hostNetwork === true) return 'hostNetwork';
  const vols = Array.isArray(spec.volumes) ? spec.volumes : [];
  const hp = vols.map((v: any) => v?.hostPath?.path).find((p: unknown) => typeof p === 'string' && sensitivePaths.includes(p));
  return hp ? `hostPath ${hp}` : undefined;
}

/** The identities a binding's subjects stand for: usernames, and `group:<name>` for groups. */
function bindingSubjects(obj: any): string[] {
  const out: string[] = [];
  for (const s of Array.isArray(obj?.subjects) ? obj.subjects : []) {
    if (!s || typeof s.name !== 'string') continue;
    if (s.kind === 'User') out.push(s.name);
    else if (s.kind === 'Group') out.push(`group:${s.name}`);
    else if (s.kind === 'ServiceAccount' && typeof s.namespace === 'string') out.push(`system:serviceaccount:${s.namespace}:${s.name}`);
  }
  return out;
}

function hasWildcard(obj: any): boolean {
  const rules = Array.isArray(obj?.rules) ? obj.rules : [];
  return rules.some((r: any) => (Array.isArray(r?.verbs) && r.verbs.includes('*')) || (Array.isArray(r?.resources) && r.resources.includes('*')));
}

/** helm's release lookup: `list secrets` with labelSelector `name=<release>,owner=helm` (its own storage, not credentials). */
function isHelmReleaseLookup(a: AuditEvent): boolean {
  const uri = a.requestURI ?? '';
  return a.verb === 'list' && /[?&]labelSelector=[^&]*owner(=|%3D)helm/i.test(uri);
}

const RBAC = 'rbac.authorization.k8s.io';
const WRITE = new Set(['create', 'update', 'patch']);
const READ = new Set(['get', 'list', 'watch']);
const DELETE = new Set(['delete', 'deletecollection']);

/** The memory of every correlation. */
export class CorrelationState {
  readonly privilegedPods: LRUCache<string, { time: number; why: string; user: string }>;
  readonly forbidden: LRUCache<string, number[]>;
  /** admin grants by subject identity */
  readonly grants: LRUCache<string, { time: number; binding: string; auditID: string }>;
  /** roles created with wildcard rules, "<ns>/<name>" ("" namespace for cluster roles) */
  readonly wildcardRoles: LRUCache<string, true>;
  readonly secretReads: LRUCache<string, Map<string, number>>;
  readonly tokenRequests: LRUCache<string, number>;
  readonly accountIps: LRUCache<string, Set<string>>;
  readonly lastFlagged: LRUCache<string, number>;
  /** audit-relevant objects created recently, by "<group>/<resource>/<ns>/<name>" */
  readonly createdControls: LRUCache<string, { user: string; time: number }>;

  constructor(readonly params: CorrelationParams = CORRELATION_PARAMS, readonly lists: CorrelationLists = new Map()) {
    this.privilegedPods = new LRUCache({ max: params.privilegedPodExec.maxPods });
    this.forbidden = new LRUCache({ max: params.forbiddenProbe.maxKeys });
    this.grants = new LRUCache({ max: params.adminBindingUse.maxSubjects });
    this.wildcardRoles = new LRUCache({ max: params.adminBindingUse.maxSubjects });
    this.secretReads = new LRUCache({ max: params.secretsSweep.maxUsers });
    this.tokenRequests = new LRUCache({ max: params.tokenNewIp.maxAccounts });
    this.accountIps = new LRUCache({ max: params.tokenNewIp.maxAccounts });
    this.lastFlagged = new LRUCache({ max: params.coverTracks.maxUsers });
    this.createdControls = new LRUCache({ max: params.coverTracks.maxCreated });
  }

  list(name: string): readonly string[] { return this.lists.get(name) ?? []; }

  /** The correlations' memory as plain values (restart checkpoint). */
  snapshotState(): CorrelationSnapshot {
    return {
      v: 1,
      privilegedPods: dumpLru(this.privilegedPods), forbidden: dumpLru(this.forbidden), grants: dumpLru(this.grants),
      wildcardRoles: dumpLru(this.wildcardRoles), secretReads: dumpLru(this.secretReads, (m) => [...m]),
      tokenRequests: dumpLru(this.tokenRequests), accountIps: dumpLru(this.accountIps, (ips) => [...ips]),
      lastFlagged: dumpLru(this.lastFlagged), createdControls: dumpLru(this.createdControls),
    };
  }

  /** Takes back a `snapshotState()`; another version is ignored (false). */
  restoreState(s: CorrelationSnapshot | undefined): boolean {
    if (!s || s.v !== 1) return false;
    loadLru(this.privilegedPods, s.privilegedPods); loadLru(this.forbidden, s.forbidden); loadLru(this.grants, s.grants);
    loadLru(this.wildcardRoles, s.wildcardRoles);
    loadLru(this.secretReads, s.secretReads, (e: Array<[string, number]>) => new Map(e));
    loadLru(this.tokenRequests, s.tokenRequests);
    loadLru(this.accountIps, s.accountIps, (ips: string[]) => new Set(ips));
    loadLru(this.lastFlagged, s.lastFlagged); loadLru(this.createdControls, s.createdControls);
    return true;
  }
}

/** CorrelationState.snapshotState(): each memory's entries, most recent last */
export interface CorrelationSnapshot { v: 1; [memory: string]: unknown }

export interface Correlation {
  /** one line for docs and --help */
  summary: string;
  /** whether it can only work with request bodies (Request / RequestResponse audit level) */
  needsBodies: boolean;
  /** whether the event completes the pattern, given what was seen before it */
  check(e: Observed, st: CorrelationState): boolean;
  /** remembers what later events are checked against */
  update(e: Observed, st: CorrelationState): void;
  /**
   * Withdraws a match once later events are known (checked whenever the context is written;
   * its final, closed document is written after contextIdle of event time).
   */
  withdraw?(e: { audit: AuditEvent; time: number }, st: CorrelationState): boolean;
}

/** Grants (subject identities) the request of `a` uses: admin bound to its user or a group, within the window. */
function usedGrants(a: AuditEvent, time: number, st: CorrelationState): string[] {
  if (!ok(a)) return [];
  const from = time - st.params.adminBindingUse.windowMs;
  return [userOf(a), ...(a.user?.groups ?? []).map((g) => `group:${g}`)].filter((id) => {
    const g = st.grants.get(id);
    return Boolean(g && g.time < time && g.time >= from && g.auditID !== a.auditID);
  });
}

const objectKey = (a: AuditEvent) => { const r = a.objectRef!; return `${r.apiGroup ?? ''}/${r.resource}/${r.namespace ?? ''}/${r.name ?? ''}`; };

function isAuditRelevant(a: AuditEvent, st: CorrelationState): boolean {
  const r = a.objectRef;
  if (!r?.resource) return false;
  const key = `${r.apiGroup ?? ''}/${r.resource}`;
  return st.list('audit_relevant_resources').some((p) => p === key || (p.endsWith('/*') && key.startsWith(p.slice(0, -1))));
}

export const CORRELATIONS = {
  'privileged-pod-exec': {
    summary: 'exec/attach into a pod that was created privileged, with host namespaces or a sensitive hostPath (by anyone, any time it is remembered)',
    needsBodies: true,
    check({ audit: a, time }, st) {
      const sub = a.objectRef?.subresource;
      if (a.objectRef?.resource !== 'pods' || (sub !== 'exec' && sub !== 'attach') || !ok(a)) return false;
      const p = podName(a);
      const seen = p && st.privilegedPods.get(`${p.ns}/${p.name}`);
      return Boolean(seen && seen.time <= time);
    },
    update({ audit: a, time }, st) {
      if (a.objectRef?.resource !== 'pods' || a.objectRef.subresource || a.verb !== 'create' || !ok(a)) return;
      const p = podName(a);
      if (!p) return;
      const why = dangerousPodSpec(a.requestObject?.spec ?? a.responseObject?.spec, st.list('sensitive_host_paths'));
      if (why) st.privilegedPods.set(`${p.ns}/${p.name}`, { time, why, user: userOf(a) });
      else st.privilegedPods.delete(`${p.ns}/${p.name}`); // the name now belongs to an ordinary pod
    },
  },
  'forbidden-probe': {
    summary: 'a burst of 403s on one resource, then a success on it, by the same non-system user',
    needsBodies: false,
    check({ audit: a, time }, st) {
      if (!ok(a) || isSystemUser(userOf(a))) return false;
      const hits = st.forbidden.get(`${userOf(a)}|${resourceKey(a)}`);
      if (!hits) return false;
      const from = time - st.params.forbiddenProbe.windowMs;
      return hits.filter((t) => t >= from).length >= st.params.forbiddenProbe.forbidden;
    },
    update({ audit: a, time }, st) {
      const user = userOf(a);
      if (isSystemUser(user) || !a.objectRef?.resource) return;
      const key = `${user}|${resourceKey(a)}`;
      if (ok(a)) { st.forbidden.delete(key); return; } // the probe succeeded (and was reported) or there was none
      if (code(a) !== 403) return;
      const from = time - st.params.forbiddenProbe.windowMs;
      const hits = (st.forbidden.get(key) ?? []).filter((t) => t >= from);
      hits.push(time);
      st.forbidden.set(key, hits.slice(-st.params.forbiddenProbe.forbidden * 4));
    },
  },
  'admin-binding-use': {
    summary: 'a binding to cluster-admin or a wildcard role, followed by the first request of the bound subject',
    needsBodies: true,
    check({ audit: a, time }, st) {
      return usedGrants(a, time, st).length > 0;
    },
    update({ audit: a, time }, st) {
      // the first use is what is reported: later requests are an admin's ordinary work, visible by user
      for (const id of usedGrants(a, time, st)) st.grants.delete(id);
      const r = a.objectRef;
      if (r?.apiGroup !== RBAC || !WRITE.has(a.verb) || r.subresource || !ok(a)) return;
      const obj = a.requestObject ?? a.responseObject;
      const name = r.name ?? obj?.metadata?.name ?? '';
      if (r.resource === 'roles' || r.resource === 'clusterroles') {
        const key = `${r.resource === 'roles' ? r.namespace ?? '' : ''}/${name}`;
        if (hasWildcard(obj)) st.wildcardRoles.set(key, true); else st.wildcardRoles.delete(key);
        return;
      }
      if (r.resource !== 'rolebindings' && r.resource !== 'clusterrolebindings') return;
      const ref = obj?.roleRef;
      if (!ref || typeof ref.name !== 'string') return;
      const roleKey = `${ref.kind === 'Role' ? r.namespace ?? '' : ''}/${ref.name}`;
      if (ref.name !== 'cluster-admin' && !st.wildcardRoles.has(roleKey)) return;
      for (const s of bindingSubjects(obj)) st.grants.set(s, { time, binding: `${r.resource}/${name}`, auditID: a.auditID });
    },
  },
  'secrets-sweep': {
    summary: 'secrets read in many namespaces (or listed cluster-wide) by one person within a short window',
    needsBodies: false,
    check({ audit: a, time }, st) {
      // persons only: operators' informers list secrets cluster-wide by design (kube-state-metrics, cert-manager, ingress controllers)
      if (a.objectRef?.resource !== 'secrets' || a.objectRef.apiGroup || !READ.has(a.verb) || !ok(a) || !isPerson(a) || isHelmReleaseLookup(a)) return false;
      if (!a.objectRef.namespace) return a.verb === 'list'; // kubectl get secrets -A
      const seen = st.secretReads.get(userOf(a));
      const from = time - st.params.secretsSweep.windowMs;
      const n = new Set([a.objectRef.namespace, ...[...(seen ?? [])].filter(([, t]) => t >= from).map(([ns]) => ns)]).size;
      return n >= st.params.secretsSweep.namespaces;
    },
    update({ audit: a, time }, st) {
      if (a.objectRef?.resource !== 'secrets' || a.objectRef.apiGroup || !READ.has(a.verb) || !ok(a) || !a.objectRef.namespace || !isPerson(a) || isHelmReleaseLookup(a)) return;
      const user = userOf(a);
      const from = time - st.params.secretsSweep.windowMs;
      const seen = st.secretReads.get(user) ?? new Map<string, number>();
      for (const [ns, t] of seen) if (t < from) seen.delete(ns);
      seen.set(a.objectRef.namespace, time);
      st.secretReads.set(user, seen);
    },
  },
  'token-new-ip': {
    summary: 'a service account token requested by a person, then the account used from a source IP it never used before',
    needsBodies: false,
    check({ audit: a, time }, st) {
      const user = userOf(a);
      if (!user.startsWith('system:serviceaccount:')) return false;
      const requested = st.tokenRequests.get(user);
      if (requested === undefined || requested > time || time - requested > st.params.tokenNewIp.windowMs) return false;
      const ip = a.sourceIPs?.[0];
      return Boolean(ip && !st.accountIps.get(user)?.has(ip));
    },
    update({ audit: a, time }, st) {
      const r = a.objectRef;
      if (r?.resource === 'serviceaccounts' && r.subresource === 'token' && a.verb === 'create' && ok(a) && r.namespace && r.name && isPerson(a)) {
        st.tokenRequests.set(`system:serviceaccount:${r.namespace}:${r.name}`, time);
      }
      const user = userOf(a);
      const ip = a.sourceIPs?.[0];
      if (!user.startsWith('system:serviceaccount:') || !ip) return;
      let ips = st.accountIps.get(user);
      if (!ips) { ips = new Set(); st.accountIps.set(user, ips); }
      if (!ips.has(ip)) {
        if (ips.size >= st.params.tokenNewIp.ipsPerAccount) ips.delete(ips.values().next().value!);
        ips.add(ip);
      }
    },
  },
  'cover-tracks': {
    summary: "a person's deletion of webhooks, admission/network policies or RBAC shortly after one of their flagged actions",
    needsBodies: false,
    check({ audit: a, time }, st) {
      if (!DELETE.has(a.verb) || !ok(a) || !isPerson(a) || !isAuditRelevant(a, st)) return false;
      const { windowMs } = st.params.coverTracks;
      // removing what one created minutes ago (helm hook RBAC, a test policy) hides nothing
      const made = a.objectRef?.name ? st.createdControls.get(objectKey(a)) : undefined;
      if (made && made.user === userOf(a) && time - made.time <= windowMs) return false;
      const last = st.lastFlagged.get(userOf(a));
      return last !== undefined && last <= time && time - last <= windowMs;
    },
    withdraw({ audit: a, time }, st) {
      // deleted and created again by the same person right away: a re-install, not a removal
      const made = a.objectRef?.name ? st.createdControls.get(objectKey(a)) : undefined;
      return Boolean(made && made.user === userOf(a) && made.time > time && made.time - time <= st.params.coverTracks.recreateMs);
    },
    update({ audit: a, time, flagged }, st) {
      if (flagged && isPerson(a)) st.lastFlagged.set(userOf(a), time);
      if (a.verb === 'create' && ok(a) && a.objectRef?.name && !a.objectRef.subresource && isAuditRelevant(a, st)) {
        st.createdControls.set(objectKey(a), { user: userOf(a), time });
      }
    },
  },
} satisfies Record<string, Correlation>;

export type CorrelationName = keyof typeof CORRELATIONS;

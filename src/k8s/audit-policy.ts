/**
 * audit.k8s.io/v1 `Policy`: which level the kube-apiserver logs a request at, and what an
 * event looks like at that level. Matching follows the apiserver's policy checker
 * (k8s.io/apiserver/pkg/audit/policy): the first rule that matches decides, no match means
 * `None`; a rule with `resources` or `namespaces` matches only resource requests, one with
 * `nonResourceURLs` only non-resource requests; `resources` entries accept `pods/log`,
 * `*`, `*\/status` and `pods/*`; `nonResourceURLs` accept a trailing `*`.
 *
 *   const level = evaluatePolicy(POLICIES['kubeadm-gke-default'], event);
 *   const logged = renderAtLevel(event, level);      // undefined when the level is None
 *   const same = applyPolicy(policy, event);         // both, plus the policy's omitStages
 *
 * Events are read as the apiserver would see the request: user = the authenticated user
 * (before impersonation), verb, objectRef (group, resource, subresource, namespace), the
 * name from the URL (a create's name comes from its body, which policy evaluation does not
 * see), and the path of requestURI for non-resource requests.
 */
import type { AuditEvent, AuditLevel, AuditStage } from '../types/audit.ts';

export interface GroupResources {
  /** API group; "" (or omitted) is the core group */
  group?: string;
  /** resources of the group: "pods", "pods/log", "*", "*\/status", "pods/*"; empty = all */
  resources?: string[];
  /** object names; empty = all */
  resourceNames?: string[];
}

export interface PolicyRule {
  level: AuditLevel;
  users?: string[];
  userGroups?: string[];
  verbs?: string[];
  resources?: GroupResources[];
  /** namespaces; "" selects cluster-scoped resources */
  namespaces?: string[];
  /** non-resource paths, "/healthz*" style */
  nonResourceURLs?: string[];
  omitStages?: AuditStage[];
  omitManagedFields?: boolean;
}

export interface Policy {
  apiVersion?: 'audit.k8s.io/v1';
  kind?: 'Policy';
  metadata?: { name?: string };
  rules: PolicyRule[];
  omitStages?: AuditStage[];
  omitManagedFields?: boolean;
}

const LEVEL_ORDER: Record<AuditLevel, number> = { None: 0, Metadata: 1, Request: 2, RequestResponse: 3 };
export const AUDIT_LEVELS: readonly AuditLevel[] = ['None', 'Metadata', 'Request', 'RequestResponse'];

/** true when level `a` records less than level `b` */
export function levelLess(a: AuditLevel, b: AuditLevel): boolean { return LEVEL_ORDER[a] < LEVEL_ORDER[b]; }

const has = (list: readonly string[] | undefined, s: string) => !list || list.length === 0 || list.includes(s);

function pathMatches(path: string, spec: string): boolean {
  if (spec === '*' || spec === path) return true;
  return spec.endsWith('*') && path.startsWith(spec.replace(/\*+$/, ''));
}

/** The name the apiserver's request attributes carry: from the URL, so none for a plain create. */
function urlName(e: AuditEvent): string {
  const r = e.objectRef;
  if (!r?.name) return '';
  if (e.verb === 'create' && !r.subresource) return '';
  return r.name;
}

function resourceMatches(rule: PolicyRule, e: AuditEvent): boolean {
  const r = e.objectRef;
  if (!r?.resource) return false;
  if (rule.namespaces?.length && !rule.namespaces.includes(r.namespace ?? '')) return false;
  if (!rule.resources?.length) return true;
  const group = r.apiGroup ?? '';
  const sub = r.subresource ?? '';
  const combined = sub ? `${r.resource}/${sub}` : r.resource;
  const name = urlName(e);
  for (const gr of rule.resources) {
    if ((gr.group ?? '') !== group) continue;
    if (!gr.resources?.length) return true;
    if (gr.resourceNames?.length && !gr.resourceNames.includes(name)) continue;
    for (const res of gr.resources) {
      if (res === '*' || res === combined) return true;
      if (sub && res.startsWith('*/') && res.slice(2) === sub) return true;
      if (res.endsWith('/*') && res.slice(0, -2) === r.resource) return true;
    }
  }
  return false;
}

/** Whether `rule` applies to the request behind `e`. */
export function ruleMatches(rule: PolicyRule, e: AuditEvent): boolean {
  if (rule.users?.length && !rule.users.includes(e.user?.username)) return false;
  if (rule.userGroups?.length && !(e.user?.groups ?? []).some((g) => rule.userGroups!.includes(g))) return false;
  if (!has(rule.verbs, e.verb)) return false;
  if (rule.namespaces?.length || rule.resources?.length) return resourceMatches(rule, e);
  if (rule.nonResourceURLs?.length) {
    if (e.objectRef?.resource) return false;
    const path = (e.requestURI ?? '').split('?')[0]!;
    return rule.nonResourceURLs.some((spec) => pathMatches(path, spec));
  }
  return true;
}

/** The first matching rule, or undefined (the apiserver then logs nothing). */
export function matchingRule(policy: Policy, e: AuditEvent): PolicyRule | undefined {
  return policy.rules.find((r) => ruleMatches(r, e));
}

/** The level `policy` logs the request behind `e` at (`None` when no rule matches). */
export function evaluatePolicy(policy: Policy, e: AuditEvent): AuditLevel {
  return matchingRule(policy, e)?.level ?? 'None';
}

function stripManagedFields(o: unknown): unknown {
  if (!o || typeof o !== 'object') return o;
  const obj = o as Record<string, any>;
  const strip = (x: any) => {
    if (x?.metadata?.managedFields === undefined) return x;
    const { managedFields: _drop, ...metadata } = x.metadata;
    return { ...x, metadata };
  };
  const out = strip(obj);
  return Array.isArray(out.items) ? { ...out, items: out.items.map(strip) } : out;
}

/**
 * `e` as the apiserver logs it at `level`: undefined for None; Metadata drops requestObject
 * and responseObject; Request drops responseObject; RequestResponse keeps both. Sets `level`.
 * A level above what `e` carries cannot restore missing bodies: they stay absent. Never
 * mutates `e`.
 */
export function renderAtLevel(e: AuditEvent, level: AuditLevel, opts: { omitManagedFields?: boolean } = {}): AuditEvent | undefined {
  if (level === 'None') return undefined;
  const { requestObject, responseObject, ...rest } = e;
  const out: AuditEvent = { ...rest, level };
  if (level !== 'Metadata' && requestObject !== undefined) out.requestObject = opts.omitManagedFields ? stripManagedFields(requestObject) : requestObject;
  if (level === 'RequestResponse' && responseObject !== undefined) out.responseObject = opts.omitManagedFields ? stripManagedFields(responseObject) : responseObject;
  return out;
}

/**
 * `e` as logged under `policy`: the matching rule's level, undefined when that is None or
 * when the event's stage is omitted by the policy or the rule.
 */
export function applyPolicy(policy: Policy, e: AuditEvent): AuditEvent | undefined {
  const rule = matchingRule(policy, e);
  if (!rule || rule.level === 'None') return undefined;
  if (policy.omitStages?.includes(e.stage) || rule.omitStages?.includes(e.stage)) return undefined;
  return renderAtLevel(e, rule.level, { omitManagedFields: rule.omitManagedFields ?? policy.omitManagedFields });
}

const policy = (name: string, rules: PolicyRule[], omitStages?: AuditStage[]): Policy => ({
  apiVersion: 'audit.k8s.io/v1', kind: 'Policy', metadata: { name }, ...(omitStages ? { omitStages } : {}), rules,
});

/** Built-in API groups ("known APIs" of the GKE/kubeadm-style policy); custom groups are not among them. */
export const BUILTIN_API_GROUPS: readonly string[] = [
  '', 'admissionregistration.k8s.io', 'apiextensions.k8s.io', 'apiregistration.k8s.io', 'apps',
  'authentication.k8s.io', 'authorization.k8s.io', 'autoscaling', 'batch', 'certificates.k8s.io',
  'coordination.k8s.io', 'discovery.k8s.io', 'events.k8s.io', 'extensions', 'flowcontrol.apiserver.k8s.io',
  'metrics.k8s.io', 'networking.k8s.io', 'node.k8s.io', 'policy', 'rbac.authorization.k8s.io',
  'scheduling.k8s.io', 'storage.k8s.io',
];
const KNOWN_APIS: GroupResources[] = BUILTIN_API_GROUPS.map((group) => ({ group }));
const RR: AuditStage[] = ['RequestReceived'];

/**
 * The GKE / kube-up (cluster/gce configure-helper) audit policy that kubeadm setups copy:
 * high-volume system reads and Events dropped, node status updates at Request, secrets,
 * configmaps, service-account tokens and token reviews at Metadata, reads of built-in APIs at
 * Request, other requests to built-in APIs at RequestResponse, everything else (custom
 * resources, non-resource URLs) at Metadata.
 */
const KUBEADM_GKE_DEFAULT = policy('kubeadm-gke-default', [
  { level: 'None', users: ['system:kube-proxy'], verbs: ['watch'], resources: [{ group: '', resources: ['endpoints', 'services', 'services/status'] }] },
  { level: 'None', users: ['system:unsecured'], namespaces: ['kube-system'], verbs: ['get'], resources: [{ group: '', resources: ['configmaps'] }] },
  { level: 'None', users: ['kubelet'], verbs: ['get'], resources: [{ group: '', resources: ['nodes', 'nodes/status'] }] },
  { level: 'None', userGroups: ['system:nodes'], verbs: ['get'], resources: [{ group: '', resources: ['nodes', 'nodes/status'] }] },
  {
    level: 'None',
    users: ['system:kube-controller-manager', 'system:cloud-controller-manager', 'system:kube-scheduler', 'system:serviceaccount:kube-system:endpoint-controller'],
    verbs: ['get', 'update'], namespaces: ['kube-system'], resources: [{ group: '', resources: ['endpoints'] }],
  },
  { level: 'None', users: ['system:apiserver'], verbs: ['get'], resources: [{ group: '', resources: ['namespaces', 'namespaces/status', 'namespaces/finalize'] }] },
  { level: 'None', users: ['cluster-autoscaler'], verbs: ['get', 'update'], namespaces: ['kube-system'], resources: [{ group: '', resources: ['configmaps', 'endpoints'] }] },
  { level: 'None', users: ['system:kube-controller-manager', 'system:cloud-controller-manager'], verbs: ['get', 'list'], resources: [{ group: 'metrics.k8s.io' }] },
  { level: 'None', nonResourceURLs: ['/healthz*', '/version', '/swagger*'] },
  { level: 'None', resources: [{ group: '', resources: ['events'] }] },
  { level: 'Request', users: ['kubelet', 'system:node-problem-detector', 'system:serviceaccount:kube-system:node-problem-detector'], verbs: ['update', 'patch'], resources: [{ group: '', resources: ['nodes/status', 'pods/status'] }], omitStages: RR },
  { level: 'Request', userGroups: ['system:nodes'], verbs: ['update', 'patch'], resources: [{ group: '', resources: ['nodes/status', 'pods/status'] }], omitStages: RR },
  { level: 'Request', users: ['system:serviceaccount:kube-system:namespace-controller'], verbs: ['deletecollection'], omitStages: RR },
  { level: 'Metadata', resources: [{ group: '', resources: ['secrets', 'configmaps', 'serviceaccounts/token'] }, { group: 'authentication.k8s.io', resources: ['tokenreviews'] }], omitStages: RR },
  { level: 'Request', verbs: ['get', 'list', 'watch'], resources: KNOWN_APIS, omitStages: RR },
  { level: 'RequestResponse', resources: KNOWN_APIS, omitStages: RR },
  { level: 'Metadata', omitStages: RR },
]);

/** The example policy of the Kubernetes auditing documentation (audit-policy.yaml). */
const K8S_DOCS_EXAMPLE = policy('k8s-docs-example', [
  { level: 'RequestResponse', resources: [{ group: '', resources: ['pods'] }] },
  { level: 'Metadata', resources: [{ group: '', resources: ['pods/log', 'pods/status'] }] },
  { level: 'None', resources: [{ group: '', resources: ['configmaps'], resourceNames: ['controller-leader'] }] },
  { level: 'None', users: ['system:kube-proxy'], verbs: ['watch'], resources: [{ group: '', resources: ['endpoints', 'services'] }] },
  { level: 'None', userGroups: ['system:authenticated'], nonResourceURLs: ['/api*', '/version'] },
  { level: 'Request', resources: [{ group: '', resources: ['configmaps'] }], namespaces: ['kube-system'] },
  { level: 'Metadata', resources: [{ group: '', resources: ['secrets', 'configmaps'] }] },
  { level: 'Request', resources: [{ group: '' }, { group: 'extensions' }] },
  { level: 'Metadata', omitStages: RR },
], RR);

/**
 * Named policies: `metadata`, `request`, `request-response` (every request at that level, no
 * stage omitted), `kubeadm-gke-default` and `k8s-docs-example` (mixed levels, see above).
 */
export const POLICIES: Readonly<Record<string, Policy>> = Object.freeze({
  metadata: policy('metadata', [{ level: 'Metadata' }]),
  request: policy('request', [{ level: 'Request' }]),
  'request-response': policy('request-response', [{ level: 'RequestResponse' }]),
  'kubeadm-gke-default': KUBEADM_GKE_DEFAULT,
  'k8s-docs-example': K8S_DOCS_EXAMPLE,
});

export const POLICY_NAMES: readonly string[] = Object.keys(POLICIES);

/** A named policy; also accepts a level name ("Metadata", "RequestResponse"). Throws on an unknown name. */
export function policyByName(name: string): Policy {
  const direct = POLICIES[name];
  if (direct) return direct;
  const byLevel: Record<string, string> = { metadata: 'metadata', request: 'request', requestresponse: 'request-response' };
  const alias = byLevel[name.toLowerCase().replace(/[-_]/g, '')];
  if (alias) return POLICIES[alias]!;
  throw new RangeError(`unknown audit policy ${JSON.stringify(name)} (known: ${POLICY_NAMES.join(', ')}, or a level: Metadata, Request, RequestResponse)`);
}

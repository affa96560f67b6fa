/**
 * Falco k8saudit parity: for every ported rule a positive and a negative RequestResponse-level
 * event, and an implementation of the Falco condition written here from the text of Falco's
 * rules file (plugins/k8saudit/rules/k8s_audit_rules.yaml) with Falco's field meanings — not
 * from kontext's rules. Every event is checked against every rule: kontext and the Falco
 * condition must agree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '../src/types/audit.ts';
import { compileRules, DetectionEngine, SHIPPED_RULES } from '../src/detect/index.ts';

// ---- Falco's fields (k8saudit plugin), over an audit event ------------------------------------
type E = AuditEvent;
const ka = {
  user: (e: E) => e.user?.username ?? '',
  verb: (e: E) => e.verb,
  resource: (e: E) => e.objectRef?.resource,
  subresource: (e: E) => e.objectRef?.subresource,
  namespace: (e: E) => e.objectRef?.namespace,
  name: (e: E) => e.objectRef?.name,
  code: (e: E) => String(e.responseStatus?.code ?? ''),
  uri: (e: E) => e.requestURI,
  decision: (e: E) => e.annotations?.['authorization.k8s.io/decision'],
  containers: (e: E): any[] => e.requestObject?.spec?.containers ?? [],
  privileged: (e: E) => ka.containers(e).map((c) => c?.securityContext?.privileged),
  // image repository: the image without tag and digest
  repos: (e: E) => ka.containers(e).map((c) => String(c.image).replace(/@.*$/, '').replace(/:[^/:]*$/, '')),
  hostpaths: (e: E) => (e.requestObject?.spec?.volumes ?? []).map((v: any) => v?.hostPath?.path).filter((p: unknown) => p !== undefined),
  hostNetwork: (e: E) => e.requestObject?.spec?.hostNetwork,
  hostPID: (e: E) => e.requestObject?.spec?.hostPID,
  hostIPC: (e: E) => e.requestObject?.spec?.hostIPC,
  serviceType: (e: E) => e.requestObject?.spec?.type,
  configmapObj: (e: E) => (e.requestObject?.data === undefined ? '' : JSON.stringify(e.requestObject.data)),
  bindingRole: (e: E) => e.requestObject?.roleRef?.name,
  ruleResources: (e: E): string[] => (e.requestObject?.rules ?? []).flatMap((r: any) => r.resources ?? []),
  ruleVerbs: (e: E): string[] => (e.requestObject?.rules ?? []).flatMap((r: any) => r.verbs ?? []),
};
/** Falco `in` on a multi-valued field: every value is in the set (and there is one). */
const allIn = (vals: unknown[], set: string[]) => vals.length > 0 && vals.every((v) => set.includes(String(v)));
const intersects = (vals: unknown[], set: string[]) => vals.some((v) => set.includes(String(v)));

// Falco's lists (the items these events touch are the ones Falco ships)
const allowed_k8s_users = ['minikube', 'minikube-user', 'kubelet', 'kops', 'admin', 'kube', 'kube-proxy', 'kube-apiserver-healthcheck',
  'kubernetes-admin', 'vpa-recommender', 'vpa-updater', 'cluster-autoscaler', 'system:addon-manager', 'cloud-controller-manager', 'system:kube-controller-manager'];
const eks_allowed_k8s_users = ['eks:node-manager', 'eks:certificate-controller', 'eks:fargate-scheduler', 'eks:k8s-metrics', 'eks:authenticator',
  'eks:cluster-event-watcher', 'eks:nodewatcher', 'eks:pod-identity-mutating-webhook', 'eks:cloud-controller-manager', 'eks:vpc-resource-controller', 'eks:addon-manager'];
const k8s_audit_privileged_images = ['falcosecurity/falco', 'docker.io/falcosecurity/falco', 'docker.io/calico/node', 'calico/node', 'registry.k8s.io/kube-proxy', 'quay.io/calico/node'];
const k8s_audit_sensitive_mount_images = ['falcosecurity/falco', 'docker.io/falcosecurity/falco', 'docker.io/prom/node-exporter', 'prom/node-exporter', 'docker.io/datadog/agent'];
const sensitive_paths = ['/proc', '/var/run/docker.sock', '/', '/etc', '/root', '/var/run/crio/crio.sock', '/run/containerd/containerd.sock',
  '/home/admin', '/var/lib/kubelet', '/var/lib/kubelet/pki', '/etc/kubernetes', '/etc/kubernetes/manifests'];
const k8s_audit_hostnetwork_images = ['gcr.io/projectcalico-org/node', 'gke.gcr.io/kube-proxy', 'registry.k8s.io/ip-masq-agent-amd64'];
const allowed_namespaces = ['kube-system', 'kube-public', 'default'];
const allowed_kube_namespace_image_list = ['registry.k8s.io/kube-apiserver', 'registry.k8s.io/metrics-server-amd64', 'gke.gcr.io/kube-proxy'];
const known_sa_list = ['coredns', 'coredns-autoscaler', 'cronjob-controller', 'daemon-set-controller', 'deployment-controller', 'replicaset-controller', 'statefulset-controller', 'job-controller'];
const full_admin_k8s_users = ['admin', 'kubernetes-admin', 'kubernetes-admin@kubernetes', 'kubernetes-admin@cluster.local', 'minikube-user'];

// Falco's macros
const non_system_user = (e: E) => !ka.user(e).startsWith('system:');
const response_successful = (e: E) => ka.code(e).startsWith('2');
const kget = (e: E) => ka.verb(e) === 'get';
const kcreate = (e: E) => ka.verb(e) === 'create';
const kmodify = (e: E) => ['create', 'update', 'patch'].includes(ka.verb(e));
const kdelete = (e: E) => ka.verb(e) === 'delete';
const pod = (e: E) => ka.resource(e) === 'pods' && ka.subresource(e) === undefined;
const pod_subresource = (e: E) => ka.resource(e) === 'pods' && ka.subresource(e) !== undefined;
const is = (r: string) => (e: E) => ka.resource(e) === r;
const [deployment, service, configmap, namespace, serviceaccount, clusterrole, clusterrolebinding, role, rolebinding, secret] =
  ['deployments', 'services', 'configmaps', 'namespaces', 'serviceaccounts', 'clusterroles', 'clusterrolebindings', 'roles', 'rolebindings', 'secrets'].map(is) as Array<(e: E) => boolean>;
const endpoint = (p: string) => (e: E) => ka.uri(e) === p || ka.uri(e).startsWith(`${p}?`);
const contains_private_credentials = (e: E) => ['aws_access_key_id', 'aws-access-key-id', 'aws_s3_access_key_id', 'aws-s3-access-key-id', 'password', 'passphrase']
  .some((s) => ka.configmapObj(e).includes(s));

/** kontext detection name → Falco rule name and its condition (user_known_* macros at their default, never true). */
const FALCO: Record<string, { rule: string; cond: (e: E) => boolean }> = {
  'disallowed-k8s-user': { rule: 'Disallowed K8s User', cond: (e) => non_system_user(e) && !allowed_k8s_users.includes(ka.user(e)) && !eks_allowed_k8s_users.includes(ka.user(e)) },
  'create-privileged-pod': { rule: 'Create Privileged Pod', cond: (e) => pod(e) && kcreate(e) && intersects(ka.privileged(e), ['true']) && !allIn(ka.repos(e), k8s_audit_privileged_images) },
  'create-sensitive-mount-pod': { rule: 'Create Sensitive Mount Pod', cond: (e) => pod(e) && kcreate(e) && intersects(ka.hostpaths(e), sensitive_paths) && !allIn(ka.repos(e), k8s_audit_sensitive_mount_images) },
  'create-hostnetwork-pod': { rule: 'Create HostNetwork Pod', cond: (e) => pod(e) && kcreate(e) && ka.hostNetwork(e) === true && !allIn(ka.repos(e), k8s_audit_hostnetwork_images) },
  'create-hostpid-pod': { rule: 'Create HostPid Pod', cond: (e) => pod(e) && kcreate(e) && ka.hostPID(e) === true && !allIn(ka.repos(e), []) },
  'create-hostipc-pod': { rule: 'Create HostIPC Pod', cond: (e) => pod(e) && kcreate(e) && ka.hostIPC(e) === true && !allIn(ka.repos(e), []) },
  'create-nodeport-service': { rule: 'Create NodePort Service', cond: (e) => service(e) && kcreate(e) && ka.serviceType(e) === 'NodePort' },
  'configmap-private-credentials': { rule: 'Create/Modify Configmap With Private Credentials', cond: (e) => configmap(e) && kmodify(e) && contains_private_credentials(e) },
  'anonymous-request-allowed': { rule: 'Anonymous Request Allowed', cond: (e) => ka.user(e) === 'system:anonymous' && ka.decision(e) === 'allow' && !endpoint('/healthz')(e) && !endpoint('/livez')(e) && !endpoint('/readyz')(e) },
  'attach-exec-pod': { rule: 'Attach/Exec Pod', cond: (e) => pod_subresource(e) && kcreate(e) && ['exec', 'attach'].includes(ka.subresource(e)!) },
  'port-forward': { rule: 'port-forward', cond: (e) => ka.subresource(e) === 'portforward' },
  'ephemeral-container-created': { rule: 'EphemeralContainers Created', cond: (e) => pod_subresource(e) && kmodify(e) && ka.subresource(e) === 'ephemeralcontainers' },
  'create-disallowed-namespace': { rule: 'Create Disallowed Namespace', cond: (e) => namespace(e) && kcreate(e) && !allowed_namespaces.includes(ka.name(e) ?? '') },
  'pod-created-in-kube-namespace': { rule: 'Pod Created in Kube Namespace', cond: (e) => pod(e) && kcreate(e) && ['kube-system', 'kube-public'].includes(ka.namespace(e) ?? '') && !allIn(ka.repos(e), allowed_kube_namespace_image_list) },
  // kontext: service accounts themselves, not serviceaccounts/token requests (see the rules file)
  'service-account-created-in-kube-namespace': { rule: 'Service Account Created in Kube Namespace', cond: (e) => serviceaccount(e) && ka.subresource(e) === undefined && kcreate(e) && ['kube-system', 'kube-public'].includes(ka.namespace(e) ?? '') && response_successful(e) && !known_sa_list.includes(ka.name(e) ?? '') },
  'system-clusterrole-modified': { rule: 'System ClusterRole Modified/Deleted', cond: (e) => (role(e) || clusterrole(e)) && (kmodify(e) || kdelete(e)) && (ka.name(e) ?? '').startsWith('system:') && !['system:coredns', 'system:managed-certificate-controller'].includes(ka.name(e)!) },
  'attach-to-cluster-admin-role': { rule: 'Attach to cluster-admin Role', cond: (e) => clusterrolebinding(e) && kcreate(e) && ka.bindingRole(e) === 'cluster-admin' },
  'clusterrole-with-wildcard-created': { rule: 'ClusterRole With Wildcard Created', cond: (e) => (role(e) || clusterrole(e)) && kcreate(e) && (ka.ruleResources(e).includes('*') || ka.ruleVerbs(e).includes('*')) },
  'clusterrole-with-write-privileges-created': { rule: 'ClusterRole With Write Privileges Created', cond: (e) => (role(e) || clusterrole(e)) && kcreate(e) && intersects(ka.ruleVerbs(e), ['create', 'update', 'patch', 'delete', 'deletecollection']) },
  'clusterrole-with-pod-exec-created': { rule: 'ClusterRole With Pod Exec Created', cond: (e) => (role(e) || clusterrole(e)) && kcreate(e) && ka.ruleResources(e).includes('pods/exec') },
  // kontext adds non_system_user to both secret rules (see the rules file)
  'secret-get-successfully': { rule: 'K8s Secret Get Successfully', cond: (e) => secret(e) && kget(e) && response_successful(e) && non_system_user(e) },
  'secret-get-unsuccessfully-tried': { rule: 'K8s Secret Get Unsuccessfully Tried', cond: (e) => secret(e) && kget(e) && !response_successful(e) && non_system_user(e) },
  'full-k8s-admin-access': { rule: 'Full K8s Administrative Access', cond: (e) => non_system_user(e) && full_admin_k8s_users.includes(ka.user(e)) },
};
const ACTIVITY: Array<[string, string, (e: E) => boolean]> = [
  ['deployment', 'Deployment', deployment], ['service', 'Service', service], ['configmap', 'ConfigMap', configmap], ['namespace', 'Namespace', namespace],
  ['serviceaccount', 'Serviceaccount', serviceaccount], ['role', 'Role', role], ['clusterrole', 'ClusterRole', clusterrole],
  ['rolebinding', 'RoleBinding', rolebinding], ['clusterrolebinding', 'ClusterRoleBinding', clusterrolebinding], ['secret', 'Secret', secret],
];
for (const [k, falcoName, macro] of ACTIVITY) {
  const extra = (e: E) => (k === 'secret' ? ka.namespace(e) !== 'kube-system' && non_system_user(e) : true);
  const object = (e: E) => (k === 'serviceaccount' ? ka.subresource(e) === undefined : true); // kontext: not serviceaccounts/token
  FALCO[`k8s-${k}-created`] = { rule: `K8s ${falcoName} Created`, cond: (e) => kcreate(e) && macro(e) && object(e) && response_successful(e) && extra(e) };
  FALCO[`k8s-${k}-deleted`] = { rule: `K8s ${falcoName} Deleted`, cond: (e) => kdelete(e) && macro(e) && response_successful(e) && extra(e) && (k === 'namespace' ? non_system_user(e) : true) };
}

// ---- events -----------------------------------------------------------------------------------
interface Spec {
  user?: string; verb: string; resource?: string; group?: string; sub?: string; ns?: string; name?: string; code?: number;
  req?: unknown; uri?: string; decision?: string;
}
function rr(s: Spec): E {
  const t = '2026-01-01T12:00:00.000000Z';
  const e: E = {
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'RequestResponse', auditID: randomUUID(), stage: 'ResponseComplete',
    requestURI: s.uri ?? `/api/v1/${s.resource ?? ''}`, verb: s.verb,
    user: { username: s.user ?? 'alice', groups: ['system:authenticated'] }, sourceIPs: ['10.0.0.5'], userAgent: 'kubectl/v1.30.2',
    responseStatus: { metadata: {}, code: s.code ?? (s.verb === 'create' ? 201 : 200) },
    requestReceivedTimestamp: t, stageTimestamp: t,
    annotations: { 'authorization.k8s.io/decision': s.decision ?? 'allow', 'authorization.k8s.io/reason': '' },
  };
  if (s.resource) {
    e.objectRef = { resource: s.resource, apiVersion: 'v1' };
    if (s.group) e.objectRef.apiGroup = s.group;
    if (s.sub) e.objectRef.subresource = s.sub;
    if (s.ns) e.objectRef.namespace = s.ns;
    if (s.name) e.objectRef.name = s.name;
  }
  if (s.req !== undefined) { e.requestObject = s.req; e.responseObject = s.req; }
  return e;
}
const podSpec = (spec: Record<string, unknown>, image = 'nginx:1.27') => ({ kind: 'Pod', apiVersion: 'v1', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image }], ...spec } });
const privileged = (image: string) => ({ kind: 'Pod', apiVersion: 'v1', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image, securityContext: { privileged: true } }] } });
const pods = { verb: 'create', resource: 'pods', ns: 'shop', name: 'p' } as const;
const RBAC = 'rbac.authorization.k8s.io';
const roleObj = (rules: unknown[]) => ({ kind: 'ClusterRole', metadata: { name: 'r' }, rules });

/** kontext detection name → [positive, negative, ...]: the negatives are the closest benign look-alikes. */
const CASES: Record<string, [E, E, ...E[]]> = {
  'disallowed-k8s-user': [rr({ user: 'mallory', verb: 'get', resource: 'pods', ns: 'shop' }), rr({ user: 'kubernetes-admin', verb: 'get', resource: 'pods', ns: 'shop' })],
  'create-privileged-pod': [rr({ ...pods, req: privileged('evil/miner:latest') }), rr({ ...pods, req: privileged('docker.io/calico/node:v3.27.0') })],
  'create-sensitive-mount-pod': [
    rr({ ...pods, req: podSpec({ volumes: [{ name: 'h', hostPath: { path: '/etc' } }] }) }),
    rr({ ...pods, req: podSpec({ volumes: [{ name: 'h', hostPath: { path: '/data/cache' } }] }) })],
  'create-hostnetwork-pod': [rr({ ...pods, req: podSpec({ hostNetwork: true }) }), rr({ ...pods, req: podSpec({ hostNetwork: true }, 'gke.gcr.io/kube-proxy:v1.30') })],
  'create-hostpid-pod': [rr({ ...pods, req: podSpec({ hostPID: true }) }), rr({ ...pods, req: podSpec({ hostPID: false }) })],
  'create-hostipc-pod': [rr({ ...pods, req: podSpec({ hostIPC: true }) }), rr({ ...pods, req: podSpec({}) })],
  'create-nodeport-service': [
    rr({ verb: 'create', resource: 'services', ns: 'shop', name: 's', req: { spec: { type: 'NodePort', ports: [{ port: 80 }] } } }),
    rr({ verb: 'create', resource: 'services', ns: 'shop', name: 's', req: { spec: { type: 'ClusterIP', ports: [{ port: 80 }] } } })],
  'configmap-private-credentials': [
    rr({ verb: 'patch', resource: 'configmaps', ns: 'shop', name: 'cfg', req: { data: { 'db.conf': 'user=app\npassword=hunter2' } } }),
    rr({ verb: 'patch', resource: 'configmaps', ns: 'shop', name: 'cfg', req: { data: { 'db.conf': 'user=app\nhost=db' } } })],
  'anonymous-request-allowed': [
    rr({ user: 'system:anonymous', verb: 'get', resource: 'configmaps', ns: 'kube-system', uri: '/api/v1/namespaces/kube-system/configmaps' }),
    rr({ user: 'system:anonymous', verb: 'get', uri: '/healthz?verbose' })],
  'attach-exec-pod': [rr({ verb: 'create', resource: 'pods', sub: 'exec', ns: 'shop', name: 'web' }), rr({ verb: 'get', resource: 'pods', sub: 'log', ns: 'shop', name: 'web' })],
  'port-forward': [rr({ verb: 'create', resource: 'pods', sub: 'portforward', ns: 'shop', name: 'web' }), rr({ verb: 'get', resource: 'pods', sub: 'proxy', ns: 'shop', name: 'web' })],
  'ephemeral-container-created': [
    rr({ verb: 'patch', resource: 'pods', sub: 'ephemeralcontainers', ns: 'shop', name: 'web', req: { spec: { ephemeralContainers: [{ name: 'debug', image: 'busybox' }] } } }),
    rr({ verb: 'get', resource: 'pods', sub: 'ephemeralcontainers', ns: 'shop', name: 'web' })],
  'create-disallowed-namespace': [rr({ verb: 'create', resource: 'namespaces', name: 'crypto' }), rr({ verb: 'create', resource: 'namespaces', name: 'default' })],
  'pod-created-in-kube-namespace': [
    rr({ verb: 'create', resource: 'pods', ns: 'kube-system', name: 'p', req: podSpec({}, 'evil/backdoor:1') }),
    rr({ verb: 'create', resource: 'pods', ns: 'kube-system', name: 'p', req: podSpec({}, 'registry.k8s.io/metrics-server-amd64:v0.3.6') })],
  'service-account-created-in-kube-namespace': [
    rr({ verb: 'create', resource: 'serviceaccounts', ns: 'kube-system', name: 'backdoor' }),
    rr({ user: 'system:node:worker-1', verb: 'create', resource: 'serviceaccounts', sub: 'token', ns: 'kube-system', name: 'kube-proxy' }),
    rr({ verb: 'create', resource: 'serviceaccounts', ns: 'kube-system', name: 'coredns' })],
  'system-clusterrole-modified': [
    rr({ verb: 'patch', resource: 'clusterroles', group: RBAC, name: 'system:node' }),
    rr({ verb: 'patch', resource: 'clusterroles', group: RBAC, name: 'system:coredns' })],
  'attach-to-cluster-admin-role': [
    rr({ verb: 'create', resource: 'clusterrolebindings', group: RBAC, name: 'b', req: { roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'User', name: 'mallory' }] } }),
    rr({ verb: 'create', resource: 'clusterrolebindings', group: RBAC, name: 'b', req: { roleRef: { kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: 'mallory' }] } })],
  'clusterrole-with-wildcard-created': [
    rr({ verb: 'create', resource: 'clusterroles', group: RBAC, name: 'r', req: roleObj([{ apiGroups: [''], resources: ['*'], verbs: ['get'] }]) }),
    rr({ verb: 'create', resource: 'clusterroles', group: RBAC, name: 'r', req: roleObj([{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }]) })],
  'clusterrole-with-write-privileges-created': [
    rr({ verb: 'create', resource: 'roles', group: RBAC, ns: 'shop', name: 'r', req: roleObj([{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'patch'] }]) }),
    rr({ verb: 'create', resource: 'roles', group: RBAC, ns: 'shop', name: 'r', req: roleObj([{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }]) })],
  'clusterrole-with-pod-exec-created': [
    rr({ verb: 'create', resource: 'clusterroles', group: RBAC, name: 'r', req: roleObj([{ apiGroups: [''], resources: ['pods', 'pods/exec'], verbs: ['create'] }]) }),
    rr({ verb: 'create', resource: 'clusterroles', group: RBAC, name: 'r', req: roleObj([{ apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get'] }]) })],
  'secret-get-successfully': [rr({ verb: 'get', resource: 'secrets', ns: 'shop', name: 'db' }), rr({ verb: 'get', resource: 'secrets', ns: 'shop', name: 'db', code: 403 })],
  'secret-get-unsuccessfully-tried': [rr({ verb: 'get', resource: 'secrets', ns: 'shop', name: 'db', code: 403 }), rr({ verb: 'get', resource: 'secrets', ns: 'shop', name: 'db' })],
  'full-k8s-admin-access': [rr({ user: 'kubernetes-admin', verb: 'delete', resource: 'pods', ns: 'shop', name: 'web' }), rr({ user: 'alice', verb: 'delete', resource: 'pods', ns: 'shop', name: 'web' })],
};
const PLURAL: Record<string, [string, string?]> = {
  deployment: ['deployments', 'apps'], service: ['services'], configmap: ['configmaps'], namespace: ['namespaces'], serviceaccount: ['serviceaccounts'],
  role: ['roles', RBAC], clusterrole: ['clusterroles', RBAC], rolebinding: ['rolebindings', RBAC], clusterrolebinding: ['clusterrolebindings', RBAC], secret: ['secrets'],
};
for (const [k] of ACTIVITY) {
  const [resource, group] = PLURAL[k]!;
  const cluster = k === 'namespace' || k.startsWith('cluster');
  const base = { resource, group, name: 'x', ns: cluster ? undefined : 'shop' };
  for (const verb of ['create', 'delete'] as const) {
    // negative: the same request, refused (Falco's response_successful)
    CASES[`k8s-${k}-${verb}d`] = [rr({ ...base, verb }), rr({ ...base, verb, code: 403 })];
  }
}

const shippedText = readFileSync(SHIPPED_RULES, 'utf8');
// Falco ships Full K8s Administrative Access disabled; the test enables it like a user would.
const engine = new DetectionEngine(compileRules([
  { file: SHIPPED_RULES, text: shippedText },
  { file: 'enable.yaml', text: '- detection: full-k8s-admin-access\n  enabled: true\n' },
]), { stateful: false });
const matches = (e: E) => engine.eventMatches({ audit: structuredClone(e), time: 0 });

/** Falco's k8saudit rules the issue lists, security and activity. */
const LISTED_FALCO_RULES = [
  'Disallowed K8s User', 'Create Privileged Pod', 'Create Sensitive Mount Pod', 'Create HostNetwork Pod', 'Create HostPid Pod', 'Create HostIPC Pod',
  'Create NodePort Service', 'Create/Modify Configmap With Private Credentials', 'Anonymous Request Allowed', 'Attach/Exec Pod', 'port-forward',
  'EphemeralContainers Created', 'Create Disallowed Namespace', 'Pod Created in Kube Namespace', 'Service Account Created in Kube Namespace',
  'System ClusterRole Modified/Deleted', 'Attach to cluster-admin Role', 'ClusterRole With Wildcard Created', 'ClusterRole With Write Privileges Created',
  'ClusterRole With Pod Exec Created', 'K8s Secret Get Successfully', 'K8s Secret Get Unsuccessfully Tried', 'Full K8s Administrative Access',
  ...ACTIVITY.flatMap(([, n]) => [`K8s ${n} Created`, `K8s ${n} Deleted`]),
];

test('the shipped rules file has exactly one detection per listed Falco rule', () => {
  const byFalco = new Map<string, string[]>();
  for (const d of engine.rules.detections) if (d.falco) byFalco.set(d.falco, [...(byFalco.get(d.falco) ?? []), d.name]);
  for (const rule of LISTED_FALCO_RULES) assert.equal(byFalco.get(rule)?.length, 1, `one detection ports Falco rule "${rule}" (found ${JSON.stringify(byFalco.get(rule))})`);
  assert.equal(LISTED_FALCO_RULES.length, 43);
  // and this test covers each of them
  for (const d of engine.rules.detections.filter((x) => x.falco)) {
    assert.ok(FALCO[d.name], `test has the Falco condition of ${d.name}`);
    assert.equal(FALCO[d.name]!.rule, d.falco, `${d.name} ports ${FALCO[d.name]!.rule}`);
    assert.ok(CASES[d.name], `test has events for ${d.name}`);
  }
  // activity rules are low-severity tags
  for (const d of engine.rules.detections.filter((x) => x.tags.includes('activity'))) assert.equal(d.severity, 'info', d.name);
});

test('every Falco-parity detection: fires on its positive event, not on its negative (RequestResponse level)', () => {
  for (const [name, [pos, ...negs]] of Object.entries(CASES)) {
    const falco = FALCO[name]!;
    assert.equal(falco.cond(pos), true, `Falco condition of ${falco.rule} holds on the positive event`);
    assert.ok(matches(pos).includes(name), `${name} fires on its positive event (matched: ${matches(pos).join(', ')})`);
    for (const neg of negs) {
      assert.equal(falco.cond(neg), false, `Falco condition of ${falco.rule} fails on the negative event`);
      assert.ok(!matches(neg).includes(name), `${name} stays quiet on its negative event`);
    }
  }
});

test('kontext and the Falco conditions agree on every event for every rule', () => {
  const events = Object.values(CASES).flat();
  let checks = 0;
  for (const e of events) {
    const got = new Set(matches(e));
    for (const [name, f] of Object.entries(FALCO)) {
      assert.equal(got.has(name), f.cond(e), `${name} on ${e.verb} ${e.objectRef?.resource ?? e.requestURI}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''} by ${e.user.username}`);
      checks++;
    }
  }
  assert.ok(checks > 3000, `${checks} checks`);
});

test('Metadata level: the body-dependent detections cannot fire, and the engine says which', () => {
  const needs = new Set(engine.needBodies);
  for (const name of ['create-privileged-pod', 'create-sensitive-mount-pod', 'create-hostnetwork-pod', 'create-hostpid-pod', 'create-hostipc-pod',
    'create-nodeport-service', 'configmap-private-credentials', 'attach-to-cluster-admin-role', 'clusterrole-with-wildcard-created',
    'clusterrole-with-write-privileges-created', 'clusterrole-with-pod-exec-created', 'exec-into-privileged-pod', 'cluster-admin-binding-then-use']) {
    assert.ok(needs.has(name), `${name} needs bodies`);
  }
  for (const name of ['attach-exec-pod', 'secret-get-successfully', 'disallowed-k8s-user', 'pod-created-in-kube-namespace']) assert.ok(!needs.has(name), `${name} works at Metadata level`);
  // stripping the bodies of the positive events silences exactly those
  for (const [name, [pos]] of Object.entries(CASES)) {
    const meta = structuredClone(pos);
    meta.level = 'Metadata'; delete meta.requestObject; delete meta.responseObject;
    if (needs.has(name)) assert.ok(!matches(meta).includes(name), `${name} cannot fire at Metadata level`);
    else assert.ok(matches(meta).includes(name), `${name} still fires at Metadata level`);
  }
});

/** API resources the simulator knows: group, version, kind and scope, keyed as labels name them. */
export interface ResourceInfo {
  /** "<group>/<resource>" or core "<resource>", as in label keys */
  key: string;
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
}

const R: ResourceInfo[] = [];
function add(group: string, version: string, resource: string, kind: string, namespaced: boolean): void {
  R.push({ key: group ? `${group}/${resource}` : resource, group, version, resource, kind, namespaced });
}
add('', 'v1', 'namespaces', 'Namespace', false);
add('', 'v1', 'nodes', 'Node', false);
add('', 'v1', 'persistentvolumes', 'PersistentVolume', false);
add('', 'v1', 'pods', 'Pod', true);
add('', 'v1', 'services', 'Service', true);
add('', 'v1', 'endpoints', 'Endpoints', true);
add('', 'v1', 'configmaps', 'ConfigMap', true);
add('', 'v1', 'secrets', 'Secret', true);
add('', 'v1', 'serviceaccounts', 'ServiceAccount', true);
add('', 'v1', 'events', 'Event', true);
add('', 'v1', 'resourcequotas', 'ResourceQuota', true);
add('', 'v1', 'limitranges', 'LimitRange', true);
add('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', true);
add('', 'v1', 'replicationcontrollers', 'ReplicationController', true);
add('', 'v1', 'podtemplates', 'PodTemplate', true);
add('apps', 'v1', 'deployments', 'Deployment', true);
add('apps', 'v1', 'replicasets', 'ReplicaSet', true);
add('apps', 'v1', 'statefulsets', 'StatefulSet', true);
add('apps', 'v1', 'daemonsets', 'DaemonSet', true);
add('apps', 'v1', 'controllerrevisions', 'ControllerRevision', true);
add('batch', 'v1', 'jobs', 'Job', true);
add('batch', 'v1', 'cronjobs', 'CronJob', true);
add('autoscaling', 'v2', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler', true);
add('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', true);
add('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true);
add('events.k8s.io', 'v1', 'events', 'Event', true);
add('networking.k8s.io', 'v1', 'ingresses', 'Ingress', true);
add('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy', true);
add('coordination.k8s.io', 'v1', 'leases', 'Lease', true);
add('rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true);
add('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true);
add('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false);
add('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false);
add('certificates.k8s.io', 'v1', 'certificatesigningrequests', 'CertificateSigningRequest', false);
add('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false);
add('authentication.k8s.io', 'v1', 'tokenreviews', 'TokenReview', false);
add('authorization.k8s.io', 'v1', 'subjectaccessreviews', 'SubjectAccessReview', false);
add('authorization.k8s.io', 'v1', 'selfsubjectaccessreviews', 'SelfSubjectAccessReview', false);
add('storage.k8s.io', 'v1', 'storageclasses', 'StorageClass', false);
add('storage.k8s.io', 'v1', 'csinodes', 'CSINode', false);
add('scheduling.k8s.io', 'v1', 'priorityclasses', 'PriorityClass', false);
add('admissionregistration.k8s.io', 'v1', 'validatingwebhookconfigurations', 'ValidatingWebhookConfiguration', false);
add('flowcontrol.apiserver.k8s.io', 'v1', 'flowschemas', 'FlowSchema', false);
add('node.k8s.io', 'v1', 'runtimeclasses', 'RuntimeClass', false);

const BY_KEY = new Map(R.map((r) => [r.key, r]));

export function resourceInfo(key: string): ResourceInfo {
  const r = BY_KEY.get(key);
  if (!r) throw new Error(`simulator: unknown resource ${key}`);
  return r;
}

/** Registers a custom resource (CRD scenario); idempotent. */
export function registerResource(r: ResourceInfo): ResourceInfo {
  const have = BY_KEY.get(r.key);
  if (have) return have;
  R.push(r); BY_KEY.set(r.key, r);
  return r;
}

export function allResources(): readonly ResourceInfo[] { return R; }

/** Namespaced resources the namespace controller walks when a namespace is deleted. */
export const NAMESPACE_CONTENT: readonly string[] = [
  'configmaps', 'endpoints', 'events', 'limitranges', 'persistentvolumeclaims', 'pods', 'podtemplates',
  'replicationcontrollers', 'resourcequotas', 'secrets', 'serviceaccounts', 'services',
  'apps/controllerrevisions', 'apps/daemonsets', 'apps/deployments', 'apps/replicasets', 'apps/statefulsets',
  'autoscaling/horizontalpodautoscalers', 'batch/cronjobs', 'batch/jobs', 'coordination.k8s.io/leases',
  'discovery.k8s.io/endpointslices', 'events.k8s.io/events', 'networking.k8s.io/ingresses',
  'networking.k8s.io/networkpolicies', 'policy/poddisruptionbudgets', 'rbac.authorization.k8s.io/rolebindings',
  'rbac.authorization.k8s.io/roles',
];

/** API path of a resource, e.g. /apis/apps/v1/namespaces/shop/deployments/web/scale */
export function resourcePath(r: ResourceInfo, ns?: string, name?: string, sub?: string): string {
  let p = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  if (r.namespaced && ns) p += `/namespaces/${ns}`;
  p += `/${r.resource}`;
  if (name) p += `/${name}`;
  if (sub) p += `/${sub}`;
  return p;
}

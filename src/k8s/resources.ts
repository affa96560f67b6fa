/**
 * Kinds and resources: "ReplicaSet" ↔ "replicasets", "<group>/<resource>" keys, which
 * built-in resources are cluster-scoped.
 */

/** "<apiGroup>/<resource>" for named groups, "<resource>" for the core group. */
export function groupResource(group: string | undefined, resource: string): string {
  return group ? `${group}/${resource}` : resource;
}

/** Built-in cluster-scoped resources (others are learned from traffic: a named request without a namespace). */
export const CLUSTER_SCOPED: ReadonlySet<string> = new Set([
  'namespaces', 'nodes', 'persistentvolumes', 'componentstatuses', 'clusterroles', 'clusterrolebindings',
  'certificatesigningrequests', 'customresourcedefinitions', 'tokenreviews', 'subjectaccessreviews',
  'selfsubjectaccessreviews', 'selfsubjectrulesreviews', 'storageclasses', 'csinodes', 'csidrivers',
  'volumeattachments', 'priorityclasses', 'validatingwebhookconfigurations', 'mutatingwebhookconfigurations',
  'validatingadmissionpolicies', 'validatingadmissionpolicybindings', 'flowschemas', 'prioritylevelconfigurations',
  'runtimeclasses', 'ingressclasses', 'apiservices',
]);

const IRREGULAR: Record<string, string> = { Endpoints: 'endpoints' };

/** "ReplicaSet" → "replicasets", "NetworkPolicy" → "networkpolicies", "Ingress" → "ingresses". */
export function pluralOfKind(kind: string): string {
  if (IRREGULAR[kind]) return IRREGULAR[kind]!;
  const k = kind.toLowerCase();
  if (/[^aeiou]y$/.test(k)) return k.slice(0, -1) + 'ies';
  if (/(s|x|z|ch|sh)$/.test(k)) return k + 'es';
  return k + 's';
}

/** "deployments" → "deployment", "networkpolicies" → "networkpolicy", "ingresses" → "ingress". */
export function singular(resource: string): string {
  if (resource === 'endpoints') return 'endpoints';
  if (resource.endsWith('ies')) return resource.slice(0, -3) + 'y';
  if (resource.endsWith('sses') || resource.endsWith('xes') || resource.endsWith('ches') || resource.endsWith('shes')) return resource.slice(0, -2);
  if (resource.endsWith('s') && !resource.endsWith('ss')) return resource.slice(0, -1);
  return resource;
}

/** Workload kinds whose status follows their pods. */
export const WORKLOADS: ReadonlySet<string> = new Set(['apps/deployments', 'apps/replicasets', 'apps/statefulsets', 'apps/daemonsets', 'batch/jobs']);

/**
 * Which controller creates which kind of object for which parent kind (kube-controller-manager):
 * the parent's name is the child's name family (see names.ts).
 */
export const CHILD_OF: Readonly<Record<string, readonly string[]>> = {
  'apps/replicasets': ['apps/deployments'],
  pods: ['apps/replicasets', 'apps/statefulsets', 'apps/daemonsets', 'batch/jobs'],
  'batch/jobs': ['batch/cronjobs'],
  persistentvolumeclaims: ['apps/statefulsets'],
  endpoints: ['services'],
  'discovery.k8s.io/endpointslices': ['services'],
  'apps/controllerrevisions': ['apps/statefulsets', 'apps/daemonsets'],
  secrets: ['serviceaccounts'],
};

/**
 * What a namespace's create and delete cause, whatever the audit level:
 * - a new namespace gets, from the control plane, its `default` ServiceAccount
 *   (service-account-controller), the `kube-root-ca.crt` ConfigMap (root-ca-cert-publisher)
 *   and, on old clusters, the account's legacy token Secret; nothing else is created in it
 *   unless someone asks for it;
 * - a namespace being deleted is emptied by the namespace controller: every object in it is
 *   deleted, and the deletions cascade (garbage collector, kubelets, endpoints).
 */
import type { AuditEvent } from '../types/audit.ts';
import { isSystemUser } from './identity.ts';
import { groupResource, WORKLOADS } from './resources.ts';

/** Core resources the control plane creates in every new namespace. */
export const NAMESPACE_BIRTH_RESOURCES: ReadonlySet<string> = new Set(['serviceaccounts', 'configmaps', 'secrets']);

/** Whether a request is the control plane filling a namespace (see NAMESPACE_BIRTH_RESOURCES). */
export function isNamespaceBirth(a: AuditEvent): boolean {
  const r = a.objectRef;
  return a.verb === 'create' && !!r?.namespace && !r.apiGroup && !r.subresource && NAMESPACE_BIRTH_RESOURCES.has(r.resource ?? '')
    && isSystemUser(a.user?.username ?? '');
}

/** The namespace a successful create or delete of a namespace object creates or deletes (its status and finalize subresources excluded). */
export function namespaceChange(a: AuditEvent): { ns: string; verb: 'create' | 'delete' } | undefined {
  const r = a.objectRef;
  if (r?.resource !== 'namespaces' || r.apiGroup || r.subresource || (a.responseStatus?.code ?? 0) >= 400) return undefined;
  if (a.verb !== 'create' && a.verb !== 'delete') return undefined;
  const ns = r.name;
  return ns ? { ns, verb: a.verb } : undefined;
}

/**
 * Whether a write hands a namespace's controllers work that the audit log cannot tie back to it
 * by name: a workload (WORKLOADS, CronJobs, pods) whose controller then creates pods by
 * generateName. Services, RBAC objects, ConfigMaps and Secrets start no such work: the
 * endpoints of a Service are named after it, the rest no controller acts on.
 */
export function startsUnlinkedWork(a: AuditEvent): boolean {
  const r = a.objectRef;
  if (!r?.resource || r.subresource === 'status') return false;
  const gr = groupResource(r.apiGroup, r.resource);
  return WORKLOADS.has(gr) || gr === 'batch/cronjobs' || gr === 'pods';
}

/** The operation of a request as a label key ("create apps/deployments"). */
import type { AuditEvent } from '../types/audit.ts';
import { labelKey, verbClassOf } from '../types/label.ts';
import { CLUSTER_SCOPED, groupResource } from './resources.ts';

/**
 * The operation of the request itself, as a label key ("create apps/deployments"). A request
 * that starts a context carries exactly this label; "nonresource" for URLs like /version.
 * Namespaced means the resource kind is namespaced (a list across all namespaces is still
 * namespaced); `clusterScoped` tells about kinds not built in.
 */
export function opLabel(ev: AuditEvent, clusterScoped?: (groupResource: string) => boolean): string {
  const o = ev.objectRef;
  if (!o?.resource) return 'nonresource';
  const gr = groupResource(o.apiGroup, o.resource);
  const listy = ev.verb === 'list' || ev.verb === 'watch' || ev.verb === 'deletecollection' || (!o.name && ev.verb !== 'create');
  const namespaced = Boolean(o.namespace) || !(CLUSTER_SCOPED.has(o.resource) || (clusterScoped?.(gr) ?? false));
  return labelKey({
    kind: 'trigger', resource: gr, subresource: o.subresource || undefined,
    namespaced, scope: listy ? 'list' : 'single', verbClass: verbClassOf(ev.verb),
  });
}

/**
 * What the compact members of a context can tell about themselves: the Kubernetes component
 * that made each request (for the UI's waterfall) and which members raised the context's
 * flags. Both reuse the one place that knows Kubernetes users and flags (label/actors.ts,
 * cluster/summary.ts); members keep no request bodies, so a flag decided from a body
 * (privileged-pod) cannot be traced to its member.
 */
import type { ContextMember, SecurityFlag } from '../types/context.ts';
import type { AuditEvent } from '../types/audit.ts';
import { eventFlags, FORBIDDEN_BURST } from '../cluster/summary.ts';
import { userClass } from '../label/actors.ts';
import { nodeNameOf } from '../k8s/identity.ts';
import type { StoredContext } from './search.ts';

export interface MemberSource { component: string; actor: string }

/** Components by user class; kube-system service accounts are controller-manager controllers. */
const COMPONENT_OF_CLASS: Record<string, string> = {
  node: 'kubelet',
  'system:kube-scheduler': 'scheduler',
  'system:kube-controller-manager': 'controller-manager',
  'system:apiserver': 'apiserver',
  'system:kube-proxy': 'kube-proxy',
  human: 'user',
  sa: 'user',
  'system:anonymous': 'user',
};

/** kube-controller-manager's service accounts whose names do not end in `-controller`. */
const CONTROLLER_MANAGER_ACCOUNTS = new Set([
  'generic-garbage-collector', 'pod-garbage-collector', 'persistent-volume-binder', 'horizontal-pod-autoscaler',
  'root-ca-cert-publisher', 'bootstrap-signer', 'token-cleaner', 'legacy-service-account-token-cleaner',
]);

/**
 * `component`: kubelet, scheduler, controller-manager, apiserver, kube-proxy, kube-system
 * (other kube-system service accounts), system (other system users) or user (people, CI and
 * workload service accounts). `actor`: the controller, node or user within it.
 */
export function memberSource(user: string): MemberSource {
  const cls = userClass(user);
  if (cls.startsWith('sa:kube-system:')) {
    const sa = cls.slice('sa:kube-system:'.length);
    return { component: sa.endsWith('-controller') || CONTROLLER_MANAGER_ACCOUNTS.has(sa) ? 'controller-manager' : 'kube-system', actor: sa };
  }
  const component = COMPONENT_OF_CLASS[cls] ?? 'system';
  const actor = nodeNameOf(user) ?? user;
  return { component, actor };
}

/** A minimal audit event with what a member (plus, for the trigger, its groups and impersonation) holds. */
function asEvent(m: ContextMember, trigger: StoredContext['trigger'] | undefined): AuditEvent {
  const slash = m.resource.lastIndexOf('/');
  const isTrigger = trigger !== undefined && trigger.auditID === m.auditID;
  return {
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', stage: 'ResponseComplete', requestURI: '',
    auditID: m.auditID, verb: m.verb,
    user: { username: m.user, groups: isTrigger ? trigger.groups ?? [] : [] },
    ...(isTrigger && trigger.impersonatedUser ? { impersonatedUser: { username: trigger.impersonatedUser } } : {}),
    objectRef: {
      resource: slash >= 0 ? m.resource.slice(slash + 1) : m.resource,
      ...(slash >= 0 ? { apiGroup: m.resource.slice(0, slash) } : {}),
      ...(m.subresource ? { subresource: m.subresource } : {}),
      ...(m.namespace ? { namespace: m.namespace } : {}),
      ...(m.name ? { name: m.name } : {}),
    },
    responseStatus: { code: m.code },
    requestReceivedTimestamp: '', stageTimestamp: '',
  } as AuditEvent;
}

export interface FlagMatch { flag: SecurityFlag; members: string[]; complete: boolean }

/** For each flag of the context (in its order), the auditIDs of the members that raised it. */
export function flagMatches(flags: readonly SecurityFlag[], members: readonly ContextMember[], trigger?: StoredContext['trigger']): FlagMatch[] {
  const by = new Map<SecurityFlag, string[]>(flags.map((f) => [f, []]));
  for (const m of members) {
    for (const f of eventFlags(asEvent(m, trigger))) by.get(f)?.push(m.auditID);
    if (m.code === 403) by.get('forbidden-burst')?.push(m.auditID);
  }
  return flags.map((flag) => {
    const ids = by.get(flag) ?? [];
    const complete = flag === 'forbidden-burst' ? ids.length >= FORBIDDEN_BURST : ids.length > 0;
    return { flag, members: ids, complete };
  });
}

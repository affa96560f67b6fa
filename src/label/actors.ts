/**
 * Name-free classes of who made a request: the parts of a username, group or user agent that
 * name a Kubernetes component (kubelet, scheduler, a kube-system controller) are kept; names of
 * people, nodes and workload service accounts are not.
 */
import type { AuditEvent } from '../types/audit.ts';

/** "human" for people and CI accounts, else a component class such as "node" or "sa:kube-system:deployment-controller". */
export function userClass(username: string | undefined): string {
  if (!username) return 'none';
  if (username.startsWith('system:node:')) return 'node';
  if (username.startsWith('system:serviceaccount:')) {
    const [, , ns, sa] = username.split(':');
    return ns === 'kube-system' ? `sa:kube-system:${sa ?? ''}` : 'sa';
  }
  if (username.startsWith('system:')) return username.split(':').slice(0, 2).join(':');
  return 'human';
}

/**
 * People, CI accounts, workload service accounts and anonymous clients act on their own: their
 * requests can start a context.
 */
export function isActorClass(cls: string): boolean { return cls === 'human' || cls === 'sa' || cls === 'system:anonymous'; }

/** Requests made by Kubernetes components (kubelet, scheduler, controllers, the apiserver itself). */
export function isSystemEvent(ev: AuditEvent): boolean { return !isActorClass(userClass(ev.user?.username)); }

/**
 * Client product and component of a user agent, without versions or hashes:
 * "kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/abc/system:serviceaccount:kube-system:job-controller"
 * → { product: "kube-controller-manager", component: "job-controller" }.
 */
export function parseUserAgent(ua: string | undefined): { product: string; component: string } {
  if (!ua) return { product: 'none', component: 'none' };
  const product = (/^([A-Za-z][A-Za-z0-9._-]*)/.exec(ua)?.[1] ?? 'other').toLowerCase();
  let component = 'none';
  const k = /kubernetes\/[0-9a-f]+\/(\S+)/.exec(ua);
  if (k) {
    const tail = k[1]!;
    component = tail.includes(':') ? tail.slice(tail.lastIndexOf(':') + 1) : tail;
  }
  return { product, component };
}

/**
 * Who made a request: a person (or their automation), a workload's service account, or a
 * Kubernetes component (kubelet, scheduler, a kube-controller-manager controller, the
 * apiserver itself); and which client family sent it (from the user agent, case-insensitive:
 * Helm sends "Helm/x.y.z").
 */
import type { AuditEvent } from '../types/audit.ts';

const NAMESPACES_SYSTEM = new Set(['kube-system', 'kube-public', 'kube-node-lease']);

/**
 * Node agents: identities that do a kubelet's work (start pods, write their status, delete
 * them once their grace period ends, renew node leases). Kubelets authenticate as
 * `system:node:<node>`; node emulators such as kwok run as one identity for all the nodes
 * they simulate (kwok's default client certificate is `kwok-controller`, in system:masters).
 * Their requests are never an action of their own.
 */
export const NODE_AGENTS: readonly { name: string; matches: (username: string) => boolean }[] = [
  { name: 'kubelet', matches: (u) => u.startsWith('system:node:') },
  { name: 'kwok', matches: (u) => u === 'kwok-controller' },
];

/** Whether `username` is a kubelet or a node emulator standing in for kubelets. */
export function isNodeAgent(username: string | undefined): boolean {
  return !!username && NODE_AGENTS.some((a) => a.matches(username));
}

/** The node a kubelet identity names (`system:node:<node>`); undefined for other identities, node emulators included (one identity for every node). */
export function nodeNameOf(username: string | undefined): string | undefined {
  return username?.startsWith('system:node:') ? username.slice('system:node:'.length) : undefined;
}

/** "human" for people and CI accounts, else a component class such as "node" or "sa:kube-system:deployment-controller". */
export function userClass(username: string | undefined): string {
  if (!username) return 'none';
  if (isNodeAgent(username)) return 'node';
  if (username.startsWith('system:serviceaccount:')) {
    const [, , ns, sa] = username.split(':');
    return ns === 'kube-system' ? `sa:kube-system:${sa ?? ''}` : 'sa';
  }
  if (username.startsWith('system:')) return username.split(':').slice(0, 2).join(':');
  return 'human';
}

/**
 * People, CI accounts, workload service accounts and anonymous clients act on their own: their
 * requests can start an action.
 */
export function isActorClass(cls: string): boolean { return cls === 'human' || cls === 'sa' || cls === 'system:anonymous'; }

/**
 * System identities: control-plane components, node agents, and service accounts of the system
 * namespaces. Everyone else (people, CI service accounts, workloads) counts as a user.
 * `system:anonymous` is never "system".
 */
export function isSystemUser(username: string): boolean {
  if (username === 'system:anonymous') return false;
  if (isNodeAgent(username)) return true;
  if (username.startsWith('system:serviceaccount:')) {
    const ns = username.split(':')[2] ?? '';
    return NAMESPACES_SYSTEM.has(ns);
  }
  return username.startsWith('system:');
}

/** "kubectl/v1.30.2 (linux/amd64) kubernetes/abc" → "kubectl/v1.30.2"; "" stays "". */
export function clientOf(userAgent: string | undefined): string {
  if (!userAgent) return '';
  const first = userAgent.trim().split(/\s+/)[0] ?? '';
  const m = /^([^/\s]+)(?:\/(v?[0-9][^/\s]*))?/.exec(first);
  if (!m) return first;
  return m[2] ? `${m[1]}/${m[2]}` : m[1]!;
}

export type ClientFamily = 'helm' | 'kubectl' | 'kustomize' | 'gitops' | 'terraform' | 'component' | 'other' | 'none';

const FAMILIES: [RegExp, ClientFamily][] = [
  [/^helm(\/|$)/i, 'helm'],
  [/^kubectl(-[a-z-]+)?(\/|$)/i, 'kubectl'],
  [/^kustomize(\/|$)/i, 'kustomize'],
  [/^(argocd|argocd-application-controller|flux|kustomize-controller|helm-controller|source-controller)(\/|$)/i, 'gitops'],
  [/^(terraform|pulumi|terraform-provider-kubernetes)/i, 'terraform'],
  [/^(kube-controller-manager|kube-scheduler|kubelet|kube-apiserver|kube-proxy|cloud-controller-manager)(\/|$)/i, 'component'],
];

/** Client family of a user agent ("none" without one). */
export function clientFamily(userAgent: string | undefined): ClientFamily {
  if (!userAgent) return 'none';
  for (const [re, f] of FAMILIES) if (re.test(userAgent)) return f;
  return 'other';
}

const HUMAN_CLIENTS = /^(kubectl|helm|kustomize|oc|k9s|lens|terraform|pulumi|argocd|flux|kubectl-[a-z-]+)(\/|$)/i;

/**
 * Whether a request comes from a person or their automation (CI) rather than from a
 * controller: a non-system identity, and for service accounts only when they drive a client
 * tool (kubectl, helm, ...). Add-on controllers run as service accounts outside kube-system.
 */
export function isPerson(a: AuditEvent): boolean {
  const user = a.user?.username ?? '';
  if (isSystemUser(user)) return false;
  if (!user.startsWith('system:serviceaccount:')) return true;
  return HUMAN_CLIENTS.test(clientOf(a.userAgent)) || isGitOpsApply(a);
}

/**
 * GitOps controllers that apply manifests from a repository: each sync applies what someone
 * committed, so its changes are actions (of the controller's service account). Their own
 * resources (Applications, Kustomizations, HelmReleases, sources: the API groups listed) and
 * their drift checks (server-side dry runs) are their routine.
 */
export const GITOPS_APPLIERS: readonly { name: string; userAgent: RegExp; ownGroups: RegExp }[] = [
  { name: 'argo-cd', userAgent: /^argocd-application-controller(\/|$)/i, ownGroups: /^argoproj\.io$/ },
  { name: 'flux-kustomize', userAgent: /^kustomize-controller(\/|$)/i, ownGroups: /\.toolkit\.fluxcd\.io$/ },
  { name: 'flux-helm', userAgent: /^helm-controller(\/|$)/i, ownGroups: /\.toolkit\.fluxcd\.io$/ },
];

const WRITES = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** A GitOps controller's change to a workload object (not its own resources, not a dry run). */
export function isGitOpsApply(a: AuditEvent): boolean {
  if (!WRITES.has(a.verb) || !a.objectRef?.resource) return false;
  const ua = a.userAgent ?? '';
  const g = GITOPS_APPLIERS.find((x) => x.userAgent.test(ua));
  if (!g || g.ownGroups.test(a.objectRef.apiGroup ?? '')) return false;
  return !/[?&]dryRun=[^&]/.test(a.requestURI ?? '');
}

/**
 * Client product and component of a user agent, without versions or hashes, lower case:
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

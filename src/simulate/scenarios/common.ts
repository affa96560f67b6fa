/** Shared pieces of scenarios: picking namespaces and idle objects, names, images, client queries. */
import type { Obj } from '../cluster.ts';
import type { Actor } from '../identity.ts';
import type { Act, Sim } from '../sim.ts';
import type { Body } from '../objects.ts';

export const SYSTEM_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage']);

export const APPS: readonly { app: string; image: string; port?: number }[] = [
  { app: 'web', image: 'nginx:1.25.4', port: 80 },
  { app: 'api', image: 'ghcr.io/acme/api:v2.7.1', port: 8080 },
  { app: 'frontend', image: 'ghcr.io/acme/frontend:v1.19.0', port: 3000 },
  { app: 'cart', image: 'ghcr.io/acme/cart:v0.9.3', port: 8080 },
  { app: 'checkout', image: 'ghcr.io/acme/checkout:v1.4.2', port: 8080 },
  { app: 'catalog', image: 'ghcr.io/acme/catalog:v3.0.0', port: 8080 },
  { app: 'redis', image: 'redis:7.2.4', port: 6379 },
  { app: 'worker', image: 'ghcr.io/acme/worker:v1.12.5' },
  { app: 'auth', image: 'quay.io/keycloak/keycloak:24.0.1', port: 8080 },
  { app: 'search', image: 'docker.elastic.co/elasticsearch/elasticsearch:8.13.0', port: 9200 },
  { app: 'billing', image: 'ghcr.io/acme/billing:v2.0.4', port: 8443 },
  { app: 'gateway', image: 'envoyproxy/envoy:v1.29.2', port: 8080 },
  { app: 'inventory', image: 'ghcr.io/acme/inventory:v1.1.0', port: 8080 },
  { app: 'notifier', image: 'ghcr.io/acme/notifier:v0.4.8' },
  { app: 'echo', image: 'hashicorp/http-echo:1.0', port: 5678 },
  { app: 'httpbin', image: 'kennethreitz/httpbin:latest', port: 80 },
];

export const NAMESPACE_NAMES = ['shop', 'payments', 'staging', 'team-a', 'team-b', 'ml', 'data', 'qa', 'identity', 'search', 'analytics', 'edge', 'batch', 'sandbox', 'platform-tools', 'observability-dev'];

export function imageFor(app: string): { image: string; port?: number } {
  return APPS.find((x) => x.app === app) ?? { image: `ghcr.io/acme/${app}:v1.0.0`, port: 8080 };
}

export function newImageTag(image: string, a: Act): string {
  const [repo, tag = 'latest'] = image.split(/:(?=[^:/]+$)/);
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(tag);
  if (!m) return `${repo}:${a.rng.pick(['1.26.0', '1.26.1', 'v2.0.0'])}`;
  const bumpMinor = a.rng.chance(0.3);
  const v = bumpMinor ? `${m[1]}.${Number(m[2]) + 1}.0` : `${m[1]}.${m[2]}.${Number(m[3]) + 1}`;
  return `${repo}:${tag.startsWith('v') ? 'v' : ''}${v}`;
}

/** namespaces users work in (not system, not being deleted) */
export function userNamespaces(sim: Sim): Obj[] {
  return sim.cluster.list('namespaces', undefined, (n) => !SYSTEM_NAMESPACES.has(n.name) && !n.x.terminating);
}

export function pickNamespace(a: Act | Sim): string {
  const sim = 'sim' in a ? a.sim : a;
  const all = userNamespaces(sim);
  const named = all.filter((n) => n.name !== 'default');
  if (!named.length || sim.rng.chance(0.08)) return 'default';
  return sim.rng.pick(named).name;
}

/** objects idle at t (no cascade touching them), alive, in a namespace not being deleted */
export function idle(sim: Sim, res: string, t: number, filter?: (o: Obj) => boolean): Obj[] {
  return sim.cluster.list(res, undefined, (o) => !o.gone && o.x.deletingAt === undefined && o.busyUntil <= t
    && (!o.ns || !sim.cluster.get('namespaces', undefined, o.ns)?.x.terminating)
    && (!o.ns || !SYSTEM_NAMESPACES.has(o.ns) || res === 'certificates.k8s.io/certificatesigningrequests')
    && (!filter || filter(o)));
}

export function uniqueName(sim: Sim, res: string, ns: string | undefined, base: string): string {
  if (!sim.cluster.exists(res, ns, base)) return base;
  for (let i = 2; i < 1000; i++) if (!sim.cluster.exists(res, ns, `${base}-${i}`)) return `${base}-${i}`;
  return `${base}-${sim.rng.suffix(5)}`;
}

/** the query string kubectl sends for a mutating request */
export function kubectlQuery(kind: 'create' | 'apply' | 'run' | 'scale' | 'patch' | 'edit' | 'set' | 'rollout' | 'label' | 'annotate' | 'server-apply'): string {
  switch (kind) {
    case 'apply': return 'fieldManager=kubectl-client-side-apply&fieldValidation=Strict';
    case 'server-apply': return 'fieldManager=kubectl&fieldValidation=Strict&force=false';
    case 'run': return 'fieldManager=kubectl-run';
    case 'set': return 'fieldManager=kubectl-set';
    case 'rollout': return 'fieldManager=kubectl-rollout';
    case 'scale': return 'fieldManager=kubectl-scale';
    case 'edit': return 'fieldManager=kubectl-edit&fieldValidation=Strict';
    case 'label': return 'fieldManager=kubectl-label';
    case 'annotate': return 'fieldManager=kubectl-annotate';
    case 'patch': return 'fieldManager=kubectl-patch';
    default: return 'fieldManager=kubectl-create&fieldValidation=Strict';
  }
}

/** managedFields manager name for a kubectl verb */
export function kubectlManager(kind: string): string {
  return kind === 'apply' ? 'kubectl-client-side-apply' : kind === 'server-apply' ? 'kubectl' : `kubectl-${kind}`;
}

/** last-applied-configuration annotation kubectl apply stores */
export function lastApplied(req: Body): string {
  const copy = JSON.parse(JSON.stringify(req));
  delete copy.status;
  if (copy.metadata) { delete copy.metadata.creationTimestamp; delete copy.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']; }
  return JSON.stringify(copy) + '\n';
}

export function isHelm(u: Actor): boolean { return u.tool === 'helm'; }

/** Namespaces: create (optionally with a ResourceQuota) and delete (namespace controller cascade). */
import type { Obj } from '../cluster.ts';
import { bump, kubeletStopPod, setManaged } from '../kube.ts';
import { managed, snap, pem, listOf, deleteOptions, type Body } from '../objects.ts';
import { NAMESPACE_CONTENT, resourceInfo } from '../resources.ts';
import type { Act, Sim } from '../sim.ts';
import { MS, SEC, rfc3339Sec } from '../time.ts';
import { kubectlManager, kubectlQuery, lastApplied, NAMESPACE_NAMES, uniqueName, userNamespaces, SYSTEM_NAMESPACES } from './common.ts';
import type { Scenario } from './types.ts';

export function namespaceBody(sim: Sim, name: string, uid: string, rv: string, created: number, manager: string, labels: Record<string, string> = {}, annotations?: Record<string, string>): Body {
  const all = { ...labels, 'kubernetes.io/metadata.name': name };
  return {
    kind: 'Namespace', apiVersion: 'v1',
    metadata: {
      name, uid, resourceVersion: rv, creationTimestamp: rfc3339Sec(created), labels: all, ...(annotations ? { annotations } : {}),
      managedFields: managed([{ manager, apiVersion: 'v1', time: created, fields: { metadata: { labels: all, ...(annotations ? { annotations } : {}) } } }]),
    },
    spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' },
  };
}

export function caConfigMap(sim: Sim, ns: string, uid: string, rv: string, created: number): Body {
  const data = { 'ca.crt': pem('CERTIFICATE', 'a3f1c29b7d5e08e64c1b92f0d7a8e5c3b4f6a1d2e9c0b7a8f5e4d3c2b1a09f8e', 18) };
  return {
    kind: 'ConfigMap', apiVersion: 'v1',
    metadata: {
      name: 'kube-root-ca.crt', namespace: ns, uid, resourceVersion: rv, creationTimestamp: rfc3339Sec(created),
      annotations: { 'kubernetes.io/description': 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.' },
      managedFields: managed([{ manager: 'kube-controller-manager', apiVersion: 'v1', time: created, fields: { data, metadata: { annotations: { 'kubernetes.io/description': 1 } } } }]),
    },
    data,
  };
}

export function quotaSpec(): Body {
  return { hard: { 'requests.cpu': '4', 'requests.memory': '8Gi', 'limits.cpu': '8', 'limits.memory': '16Gi', pods: '20', 'count/deployments.apps': '10', services: '10', persistentvolumeclaims: '5' } };
}

/** What a namespace create causes: default ServiceAccount and the CA bundle ConfigMap. */
export function namespaceFollowUps(a: Act, t: number, ns: string): number {
  const rng = a.rng;
  const saCtl = a.sys.ctrl['service-account-controller'];
  const caCtl = a.sys.ctrl['root-ca-cert-publisher'];
  let end = t;
  {
    const ts = t + Math.round(rng.around(3 * MS));
    const uid = rng.uuid();
    const lat = Math.round(rng.around(3.5 * MS));
    const req = { kind: 'ServiceAccount', apiVersion: 'v1', metadata: { name: 'default', creationTimestamp: null } };
    const body = { kind: 'ServiceAccount', apiVersion: 'v1', metadata: { name: 'default', namespace: ns, uid, resourceVersion: a.cluster.rv(ts + lat), creationTimestamp: rfc3339Sec(ts + lat) } };
    const e = a.call({ actor: saCtl, at: ts, verb: 'create', res: 'serviceaccounts', ns, req, resp: snap(body), latency: lat });
    a.cluster.add({ res: 'serviceaccounts', ns, name: 'default', uid, body, createdAt: e });
    end = Math.max(end, e);
  }
  {
    const tc = t + Math.round(rng.around(4 * MS));
    const uid = rng.uuid();
    const lat = Math.round(rng.around(3.5 * MS));
    const body = caConfigMap(a.sim, ns, uid, a.cluster.rv(tc + lat), tc + lat);
    const req = snap(body);
    req.metadata = { name: 'kube-root-ca.crt', creationTimestamp: null, annotations: body.metadata.annotations };
    const e = a.call({ actor: caCtl, at: tc, verb: 'create', res: 'configmaps', ns, req, resp: snap(body), latency: lat });
    a.cluster.add({ res: 'configmaps', ns, name: 'kube-root-ca.crt', uid, body, createdAt: e });
    end = Math.max(end, e);
  }
  return end;
}

const terminating = new WeakMap<Sim, Map<string, number>>();
/** namespace name → when its deletion finishes (the cluster model forgets it as soon as the delete action is generated) */
function terminatingUntil(sim: Sim): Map<string, number> {
  let m = terminating.get(sim);
  if (!m) terminating.set(sim, m = new Map());
  return m;
}

export const namespaceCreate: Scenario = {
  name: 'namespace-create', shrink: 'namespace-delete', summary: 'kubectl create/apply namespace (half of them with a ResourceQuota): default ServiceAccount, CA ConfigMap, quota status',
  trigger: 'create namespaces (cluster)', weight: 3, admin: true,
  run(sim, user, t0) {
    const a = sim.action(user, t0, { verb: 'create', res: 'namespaces' });
    // a namespace still terminating (its deletion runs on past this action's start) cannot be created again yet
    const gone = terminatingUntil(sim);
    const existing = new Set([...sim.cluster.list('namespaces').map((n) => n.name), ...[...gone].filter(([, until]) => until > t0).map(([n]) => n)]);
    const free = NAMESPACE_NAMES.filter((n) => !existing.has(n));
    const name = free.length ? sim.rng.pick(free) : uniqueName(sim, 'namespaces', undefined, `preview-${sim.rng.suffix(5)}`);
    const withQuota = sim.rng.chance(0.5);
    const apply = withQuota || sim.rng.chance(0.3);
    let t = a.discovery(t0);
    if (apply) t = a.think(a.call({ at: t, verb: 'get', res: 'namespaces', name, code: 404 }));
    const labels: Record<string, string> = sim.rng.chance(0.5) ? { team: sim.rng.pick(['checkout', 'platform', 'data', 'identity', 'growth']) } : {};
    const req: Body = { kind: 'Namespace', apiVersion: 'v1', metadata: { name, creationTimestamp: null, ...(Object.keys(labels).length ? { labels } : {}) }, spec: {}, status: {} };
    const annotations = apply ? { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied(req) } : undefined;
    if (annotations) req.metadata.annotations = annotations;
    const uid = sim.rng.uuid();
    const lat = Math.round(sim.rng.around(4 * MS));
    const body = namespaceBody(sim, name, uid, sim.cluster.rv(t + lat), t + lat, kubectlManager(apply ? 'apply' : 'create'), labels, annotations);
    const end = a.call({ trigger: true, at: t, verb: 'create', res: 'namespaces', query: kubectlQuery(apply ? 'apply' : 'create'), req, resp: snap(body), latency: lat });
    const nsObj = sim.cluster.add({ res: 'namespaces', name, uid, body, createdAt: end });
    namespaceFollowUps(a, end, name);
    if (withQuota) {
      // same kubectl apply -f: the quota follows the namespace in the manifest
      let tq = a.think(end, 8 * MS);
      tq = a.think(a.call({ at: tq, verb: 'get', res: 'resourcequotas', ns: name, name: 'compute-quota', code: 404 }), 6 * MS);
      const qreq: Body = { kind: 'ResourceQuota', apiVersion: 'v1', metadata: { name: 'compute-quota', namespace: name, creationTimestamp: null }, spec: quotaSpec(), status: {} };
      qreq.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied(qreq) };
      const quid = sim.rng.uuid();
      const qlat = Math.round(sim.rng.around(4 * MS));
      const qbody: Body = {
        kind: 'ResourceQuota', apiVersion: 'v1',
        metadata: {
          name: 'compute-quota', namespace: name, uid: quid, resourceVersion: sim.cluster.rv(tq + qlat), creationTimestamp: rfc3339Sec(tq + qlat), annotations: qreq.metadata.annotations,
          managedFields: managed([{ manager: 'kubectl-client-side-apply', apiVersion: 'v1', time: tq, fields: { metadata: { annotations: qreq.metadata.annotations }, spec: qreq.spec } }]),
        },
        spec: quotaSpec(), status: {},
      };
      const qe = a.call({ at: tq, verb: 'create', res: 'resourcequotas', ns: name, query: kubectlQuery('apply'), req: qreq, resp: snap(qbody), latency: qlat });
      const q = sim.cluster.add({ res: 'resourcequotas', ns: name, name: 'compute-quota', uid: quid, body: qbody, createdAt: qe });
      const tsync = qe + Math.round(sim.rng.around(20 * MS));
      q.body.status = { hard: quotaSpec().hard, used: Object.fromEntries(Object.keys(quotaSpec().hard).map((k) => [k, '0'])) };
      bump(a, q, tsync);
      setManaged(q.body, { manager: 'kube-controller-manager', apiVersion: 'v1', time: tsync, fields: { status: q.body.status }, subresource: 'status' });
      a.call({ actor: sim.sys.ctrl['resourcequota-controller'], at: tsync, verb: 'update', res: 'resourcequotas', ns: name, name: 'compute-quota', sub: 'status', req: snap(q.body), resp: snap(q.body) });
    }
    sim.cluster.busy(a.end, nsObj);
    return a;
  },
};

/**
 * kubectl delete namespace: the namespace turns Terminating, the namespace controller walks
 * every namespaced resource (deletecollection + list), pods terminate on their kubelets,
 * controllers that try to recreate content are refused (403), a second pass confirms
 * nothing is left, then finalize and the final delete.
 */
export const namespaceDelete: Scenario = {
  name: 'namespace-delete', summary: 'kubectl delete namespace: namespace controller deletes all content, pods terminate, finalize',
  trigger: 'delete namespaces (cluster)', weight: 1.5, admin: true, fallback: 'namespace-create',
  run(sim, user, t0) {
    const cands = userNamespaces(sim).filter((n) => n.name !== 'default' && n.busyUntil <= t0 && !SYSTEM_NAMESPACES.has(n.name));
    if (cands.length < 3) return undefined;
    const nsObj = sim.rng.pick(cands);
    const ns = nsObj.name;
    const rng = sim.rng;
    const a = sim.action(user, t0, { verb: 'delete', res: 'namespaces' });
    const t = a.discovery(t0);
    nsObj.x.terminating = true;
    nsObj.body.metadata.deletionTimestamp = rfc3339Sec(t);
    nsObj.body.status = { phase: 'Terminating' };
    const lat = Math.round(rng.around(5 * MS));
    bump(a, nsObj, t + lat);
    const end = a.call({ trigger: true, at: t, verb: 'delete', res: 'namespaces', name: ns, req: deleteOptions({ propagationPolicy: 'Background' }), resp: snap(nsObj.body), latency: lat });
    const ctl = sim.sys.ctrl['namespace-controller'];
    const pass = (tp: number, first: boolean): { end: number; podsGone: number; terminating: number } => {
      let tt = tp;
      let podsGone = tp;
      let terminating = 0;
      for (const key of NAMESPACE_CONTENT) {
        const r = resourceInfo(key);
        const objs = sim.cluster.list(key, ns, (o) => !o.gone);
        const deleted = objs.filter((o) => !(key === 'pods' && o.x.deletingAt !== undefined));
        tt += Math.round(rng.around(1.2 * MS));
        const items = deleted.map((o) => {
          if (key === 'pods') { o.body.metadata.deletionTimestamp = rfc3339Sec(tt + 30 * SEC); o.body.metadata.deletionGracePeriodSeconds = 30; }
          return snap(o.body);
        });
        const rv = sim.cluster.rv(tt);
        const lat2 = Math.round(rng.around((items.length ? 8 : 3) * MS));
        tt = a.call({ actor: ctl, at: tt, verb: 'deletecollection', res: key, ns, req: deleteOptions({ propagationPolicy: 'Background' }), resp: listOf(r.kind, r.group ? `${r.group}/${r.version}` : r.version, rv, items), latency: lat2 });
        for (const o of deleted) {
          if (key === 'pods') {
            o.x.deletingAt = tt;
            terminating++;
            podsGone = Math.max(podsGone, kubeletStopPod(a, tt, o));
            const owner = o.ownerUid ? sim.cluster.byId(o.ownerUid) : undefined;
            if (owner && !owner.gone && owner.res === 'apps/replicasets' && rng.chance(0.7)) {
              // the ReplicaSet controller tries to replace the pod: refused by namespace lifecycle admission
              const tr = tt + Math.round(rng.around(4 * MS));
              a.call({
                actor: sim.sys.ctrl['replicaset-controller'], at: tr, verb: 'create', res: 'pods', ns, code: 403, reason: 'Forbidden',
                message: `pods "${owner.name}-${rng.suffix(5)}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
                req: { kind: 'Pod', apiVersion: 'v1', metadata: { generateName: `${owner.name}-`, creationTimestamp: null } },
              });
              owner.x.refused = true;
            }
          } else {
            o.x.deletingAt = tt;
            sim.cluster.remove(o);
          }
        }
        tt = a.call({ actor: ctl, at: tt + Math.round(rng.around(0.8 * MS)), verb: 'list', res: key, ns, query: 'limit=500' });
      }
      void first;
      return { end: tt, podsGone, terminating };
    };
    const p1 = pass(end + Math.round(rng.around(40 * MS, 0.5)), true);
    // pods still terminating on their kubelets when the first pass ends
    const remaining = p1.podsGone > p1.end ? p1.terminating : 0;
    nsObj.body.status = {
      phase: 'Terminating',
      conditions: [
        { type: 'NamespaceDeletionDiscoveryFailure', status: 'False', lastTransitionTime: rfc3339Sec(p1.end), reason: 'ResourcesDiscovered', message: 'All resources successfully discovered' },
        { type: 'NamespaceDeletionGroupVersionParsingFailure', status: 'False', lastTransitionTime: rfc3339Sec(p1.end), reason: 'ParsedGroupVersions', message: 'All legacy kube types successfully parsed' },
        { type: 'NamespaceDeletionContentFailure', status: 'False', lastTransitionTime: rfc3339Sec(p1.end), reason: 'ContentDeleted', message: 'All content successfully deleted, may be waiting on finalization' },
        { type: 'NamespaceContentRemaining', status: remaining ? 'True' : 'False', lastTransitionTime: rfc3339Sec(p1.end), reason: remaining ? 'SomeResourcesRemain' : 'ContentRemoved', message: remaining ? `Some resources are remaining: pods. has ${remaining} resource instances` : 'All content successfully removed' },
        { type: 'NamespaceFinalizersRemaining', status: 'False', lastTransitionTime: rfc3339Sec(p1.end), reason: 'ContentHasNoFinalizers', message: 'All content-preserving finalizers finished' },
      ],
    };
    let tl = p1.end + Math.round(rng.around(3 * MS));
    bump(a, nsObj, tl);
    setManaged(nsObj.body, { manager: 'kube-controller-manager', apiVersion: 'v1', time: tl, fields: { status: { conditions: nsObj.body.status.conditions } }, subresource: 'status' });
    tl = a.call({ actor: ctl, at: tl, verb: 'update', res: 'namespaces', name: ns, sub: 'status', req: snap(nsObj.body), resp: snap(nsObj.body) });
    if (remaining) {
      // requeued after the estimated graceful termination time
      const p2 = pass(Math.max(p1.podsGone, tl) + Math.round(rng.around(1.5 * SEC)), false);
      tl = p2.end;
      for (const c of nsObj.body.status.conditions) if (c.type === 'NamespaceContentRemaining') { c.status = 'False'; c.reason = 'ContentRemoved'; c.message = 'All content successfully removed'; c.lastTransitionTime = rfc3339Sec(tl); }
      tl += Math.round(rng.around(3 * MS));
      bump(a, nsObj, tl);
      tl = a.call({ actor: ctl, at: tl, verb: 'update', res: 'namespaces', name: ns, sub: 'status', req: snap(nsObj.body), resp: snap(nsObj.body) });
    }
    // finalize: drop the kubernetes finalizer, then the namespace is deleted for good
    tl += Math.round(rng.around(4 * MS));
    nsObj.body.spec.finalizers = [];
    bump(a, nsObj, tl);
    tl = a.call({ actor: ctl, at: tl, verb: 'update', res: 'namespaces', name: ns, sub: 'finalize', req: snap(nsObj.body), resp: snap(nsObj.body) });
    tl = a.call({ actor: ctl, at: tl + Math.round(rng.around(3 * MS)), verb: 'delete', res: 'namespaces', name: ns, req: deleteOptions({ preconditions: { uid: nsObj.uid } }), resp: snap(nsObj.body) });
    for (const o of sim.cluster.inNamespace(ns)) sim.cluster.remove(o);
    sim.cluster.remove(nsObj);
    terminatingUntil(sim).set(ns, Math.max(tl, a.end));
    return a;
  },
};

export const NAMESPACE_SCENARIOS: Scenario[] = [namespaceCreate, namespaceDelete];
export type { Obj };

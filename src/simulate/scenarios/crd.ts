/**
 * CustomResourceDefinitions and custom resources. Creating a CRD makes the apiserver's
 * apiextensions controllers accept its names and establish it, and the controller manager
 * rediscover the API (garbage collector, quota). Some kinds have an operator that reconciles
 * each new resource (status, an owned ConfigMap, an event); deleting one goes through its
 * finalizer.
 */
import type { Obj } from '../cluster.ts';
import type { Actor } from '../identity.ts';
import { createObject, recordEvent, updateObject, deleteObject } from '../kube.ts';
import type { Body } from '../objects.ts';
import { registerResource } from '../resources.ts';
import type { Sim } from '../sim.ts';
import { MS, rfc3339Sec } from '../time.ts';
import { garbageCollect } from '../workloads.ts';
import { idle, kubectlManager, kubectlQuery, lastApplied, pickNamespace, uniqueName } from './common.ts';
import type { Scenario } from './types.ts';

const CRD = 'apiextensions.k8s.io/customresourcedefinitions';

interface CrdDef { group: string; version: string; plural: string; singular: string; kind: string; operator?: { sa: string; ns: string; ua: string }; spec: () => Body }

const CRDS: CrdDef[] = [
  { group: 'acme.io', version: 'v1alpha1', plural: 'widgets', singular: 'widget', kind: 'Widget', operator: { sa: 'widget-operator', ns: 'acme-system', ua: 'widget-operator/v0.3.1 (linux/amd64) kubernetes/$Format' }, spec: () => ({ size: 3, color: 'blue', replicas: 1 }) },
  { group: 'stable.example.com', version: 'v1', plural: 'crontabs', singular: 'crontab', kind: 'CronTab', spec: () => ({ cronSpec: '* * * * */5', image: 'my-awesome-cron-image' }) },
  { group: 'monitoring.acme.io', version: 'v1', plural: 'probes', singular: 'probe', kind: 'Probe', spec: () => ({ interval: '30s', url: 'https://shop.example.com/healthz' }) },
  { group: 'data.acme.io', version: 'v1beta1', plural: 'datasets', singular: 'dataset', kind: 'Dataset', operator: { sa: 'dataset-controller', ns: 'acme-system', ua: 'dataset-controller/v0.9.0 (linux/amd64) kubernetes/$Format' }, spec: () => ({ source: 's3://acme-data/events', format: 'parquet', retentionDays: 30 }) },
  { group: 'backup.acme.io', version: 'v1', plural: 'backupschedules', singular: 'backupschedule', kind: 'BackupSchedule', operator: { sa: 'backup-operator', ns: 'acme-system', ua: 'backup-operator/v1.2.0 (linux/amd64) kubernetes/$Format' }, spec: () => ({ schedule: '0 3 * * *', ttl: '720h', includedNamespaces: ['shop'] }) },
];

function operatorActor(sim: Sim, d: CrdDef): Actor {
  const op = d.operator!;
  return {
    username: `system:serviceaccount:${op.ns}:${op.sa}`, uid: `5f1c9a2e-${d.plural.length.toString(16).padStart(4, '0')}-4a1b-9c3d-${sim.opts.seed.toString(16).padStart(12, '0').slice(-12)}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${op.ns}`, 'system:authenticated'],
    userAgent: op.ua, ip: '10.244.2.40', kind: 'addon',
    reason: `RBAC: allowed by ClusterRoleBinding "${op.sa}" of ClusterRole "${op.sa}" to ServiceAccount "${op.sa}/${op.ns}"`,
  };
}

function crdSpec(d: CrdDef): Body {
  const props: Body = {};
  for (const [k, v] of Object.entries(d.spec())) props[k] = Array.isArray(v) ? { type: 'array', items: { type: 'string' } } : { type: typeof v === 'number' ? 'integer' : 'string' };
  return {
    group: d.group, names: { plural: d.plural, singular: d.singular, kind: d.kind, listKind: `${d.kind}List` }, scope: 'Namespaced',
    versions: [{
      name: d.version, served: true, storage: true,
      schema: { openAPIV3Schema: { type: 'object', properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, spec: { type: 'object', properties: props }, status: { type: 'object', properties: { phase: { type: 'string' }, conditions: { type: 'array', items: { type: 'object', properties: { type: { type: 'string' }, status: { type: 'string' }, reason: { type: 'string' }, message: { type: 'string' }, lastTransitionTime: { type: 'string', format: 'date-time' } } } } } } } } },
      subresources: { status: {} },
      additionalPrinterColumns: [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
    }],
  };
}

export const crdCreate: Scenario = {
  name: 'crd-create', summary: 'kubectl apply of a CRD: NamesAccepted and Established status from the apiserver, controller-manager rediscovery',
  trigger: `create ${CRD} (cluster)`, weight: 0.5, admin: true, fallback: 'crd-delete',
  run(sim, user, t0) {
    const free = CRDS.filter((d) => !sim.cluster.exists(CRD, undefined, `${d.plural}.${d.group}`));
    if (!free.length) return undefined;
    const d = sim.rng.pick(free);
    const name = `${d.plural}.${d.group}`;
    const a = sim.action(user, t0, { verb: 'create', res: CRD });
    let t = a.discovery(t0);
    t = a.think(a.call({ at: t, verb: 'get', res: CRD, name, code: 404 }));
    const req: Body = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name, creationTimestamp: null }, spec: crdSpec(d), status: { conditions: null, acceptedNames: { plural: '', kind: '' }, storedVersions: null } };
    req.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied(req) };
    const crd = createObject(a, {
      at: t, res: CRD, req, manager: kubectlManager('apply'), query: kubectlQuery('apply'), trigger: true,
      defaults: (b) => { b.spec.conversion = { strategy: 'None' }; b.status = { acceptedNames: { plural: '', kind: '' }, storedVersions: [d.version] }; },
    });
    registerResource({ key: `${d.group}/${d.plural}`, group: d.group, version: d.version, resource: d.plural, kind: d.kind, namespaced: true });
    const api = sim.sys.apiserver;
    const cond = (type: string, reason: string, message: string, at: number) => ({ type, status: 'True', lastTransitionTime: rfc3339Sec(at), reason, message });
    let tt = updateObject(a, { actor: api, at: crd.createdAt + Math.round(sim.rng.around(3 * MS)), obj: crd, sub: 'status', manager: 'kube-apiserver', mutate: (b) => { b.status = { ...b.status, conditions: [cond('NamesAccepted', 'NoConflicts', 'no conflicts found', crd.createdAt)], acceptedNames: b.spec.names }; } });
    tt = updateObject(a, { actor: api, at: tt + Math.round(sim.rng.around(4 * MS)), obj: crd, sub: 'status', manager: 'kube-apiserver', conflictP: 0.3, mutate: (b) => { b.status.conditions = [...b.status.conditions, cond('Established', 'InitialNamesAccepted', 'the initial names have been accepted', tt)]; } });
    // the controller manager's discovery refresh (garbage collector, quota) picks up the new API
    for (const who of ['generic-garbage-collector', 'resourcequota-controller'] as const) {
      let td = tt + Math.round(sim.rng.around(400 * MS, 0.6));
      td = a.call({ actor: sim.sys.ctrl[who], at: td, verb: 'get', path: '/apis' });
      a.call({ actor: sim.sys.ctrl[who], at: td + Math.round(sim.rng.around(2 * MS)), verb: 'get', path: `/apis/${d.group}/${d.version}` });
    }
    crd.x.def = d;
    return a;
  },
};

export const crCreate: Scenario = {
  name: 'cr-create', shrink: 'cr-delete', summary: 'kubectl apply of a custom resource; an operator (when the kind has one) reconciles: status, owned ConfigMap, event',
  trigger: 'create <group>/<plural> (custom resource)', weight: 1, fallback: 'crd-create',
  run(sim, user, t0) {
    const crds = sim.cluster.list(CRD, undefined, (c) => !!c.x.def && c.busyUntil <= t0);
    if (!crds.length) return undefined;
    const d: CrdDef = sim.rng.pick(crds).x.def;
    const res = `${d.group}/${d.plural}`;
    const a = sim.action(user, t0, { verb: 'create', res });
    const ns = pickNamespace(a);
    const name = uniqueName(sim, res, ns, sim.rng.pick(['main', 'nightly', 'primary', 'edge', 'demo']));
    let t = a.discovery(t0, 0.5);
    t = a.think(a.call({ at: t, verb: 'get', res, ns, name, code: 404 }));
    const req: Body = { apiVersion: `${d.group}/${d.version}`, kind: d.kind, metadata: { name, namespace: ns }, spec: d.spec() };
    req.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied(req) };
    const cr = createObject(a, { at: t, res, ns, req, manager: kubectlManager('apply'), query: kubectlQuery('apply'), trigger: true, generation: true });
    if (d.operator) {
      const op = operatorActor(sim, d);
      const rng = sim.rng;
      let to = cr.createdAt + Math.round(rng.around(15 * MS, 0.6));
      to = updateObject(a, { actor: op, at: to, obj: cr, verb: 'patch', manager: d.operator.sa, patch: { metadata: { finalizers: [`${d.group}/finalizer`] } }, mutate: (b) => { b.metadata.finalizers = [`${d.group}/finalizer`]; } });
      const cm = createObject(a, {
        actor: op, at: to + Math.round(rng.around(4 * MS)), res: 'configmaps', ns, manager: d.operator.sa, owner: cr,
        req: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${name}-${d.singular}-config`, namespace: ns, labels: { 'app.kubernetes.io/managed-by': d.operator.sa, [`${d.group}/owner`]: name }, ownerReferences: [{ apiVersion: `${d.group}/${d.version}`, kind: d.kind, name, uid: cr.uid, controller: true, blockOwnerDeletion: true }] }, data: Object.fromEntries(Object.entries(d.spec()).map(([k, v]) => [k, String(v)])) },
      });
      to = updateObject(a, { actor: op, at: cm.createdAt + Math.round(rng.around(5 * MS)), obj: cr, sub: 'status', verb: 'patch', manager: d.operator.sa, patch: { status: { phase: 'Ready' } }, mutate: (b) => { b.status = { phase: 'Ready', conditions: [{ type: 'Ready', status: 'True', reason: 'Reconciled', message: `${d.kind} reconciled`, lastTransitionTime: rfc3339Sec(cm.createdAt) }] }; } });
      recordEvent(a, to + Math.round(rng.around(2 * MS)), op, cr, d.kind, `${d.group}/${d.version}`, 'Reconciled', `${d.kind} ${ns}/${name} reconciled`, { component: d.operator.sa, manager: d.operator.sa });
      cr.x.operator = op;
    }
    cr.x.def = d;
    sim.cluster.busy(a.end, cr);
    return a;
  },
};

export const crDelete: Scenario = {
  name: 'cr-delete', summary: 'kubectl delete of a custom resource: operator finalizer cleanup, owned objects garbage collected',
  trigger: 'delete <group>/<plural> (custom resource)', weight: 0.5, fallback: 'cr-create',
  run(sim, user, t0) {
    const crs: Obj[] = [];
    for (const d of CRDS) crs.push(...idle(sim, `${d.group}/${d.plural}`, t0));
    if (!crs.length) return undefined;
    const cr = sim.rng.pick(crs);
    const a = sim.action(user, t0, { verb: 'delete', res: cr.res });
    let t = deleteObject(a, { at: a.discovery(t0), obj: cr, trigger: true, keep: !!cr.x.operator });
    if (cr.x.operator) {
      const d: CrdDef = cr.x.def;
      t = updateObject(a, { actor: cr.x.operator, at: t + Math.round(sim.rng.around(20 * MS)), obj: cr, verb: 'patch', manager: d.operator!.sa, patch: { metadata: { $setElementOrder: null, finalizers: null } }, mutate: (b) => { delete b.metadata.finalizers; } });
      sim.cluster.remove(cr);
    }
    garbageCollect(a, t, cr);
    return a;
  },
};

/**
 * kubectl delete crd: the CRD turns Terminating, the apiserver's cleanup finalizer deletes
 * every custom resource of the kind (deletecollection), drops the finalizer, and the CRD goes.
 */
export const crdDelete: Scenario = {
  name: 'crd-delete', summary: 'kubectl delete crd: instances removed by the apiserver cleanup finalizer, CRD removed',
  trigger: `delete ${CRD} (cluster)`, weight: 0.2, admin: true,
  run(sim, user, t0) {
    const crds = idle(sim, CRD, t0, (c) => !!c.x.def);
    if (!crds.length) return undefined;
    const crd = sim.rng.pick(crds);
    const d: CrdDef = crd.x.def;
    const res = `${d.group}/${d.plural}`;
    const a = sim.action(user, t0, { verb: 'delete', res: CRD });
    crd.body.metadata.finalizers = ['customresourcecleanup.apiextensions.k8s.io'];
    let t = deleteObject(a, { at: a.discovery(t0), obj: crd, trigger: true, keep: true });
    const api = sim.sys.apiserver;
    t = updateObject(a, { actor: api, at: t + Math.round(sim.rng.around(5 * MS)), obj: crd, sub: 'status', manager: 'kube-apiserver', mutate: (b) => { b.status.conditions = [...(b.status.conditions ?? []), { type: 'Terminating', status: 'True', lastTransitionTime: rfc3339Sec(t), reason: 'InstanceDeletionInProgress', message: 'CustomResource deletion is in progress' }]; } });
    const instances = sim.cluster.list(res);
    const byNs = new Set(instances.map((o) => o.ns!));
    for (const ns of byNs) {
      t = a.call({ actor: api, at: t + Math.round(sim.rng.around(3 * MS)), verb: 'deletecollection', res, ns });
      for (const o of instances.filter((x) => x.ns === ns)) { sim.cluster.remove(o); t = Math.max(t, garbageCollect(a, t, o)); }
    }
    t = a.call({ actor: api, at: t + Math.round(sim.rng.around(3 * MS)), verb: 'list', res, query: 'limit=500' });
    t = updateObject(a, { actor: api, at: t + Math.round(sim.rng.around(3 * MS)), obj: crd, manager: 'kube-apiserver', mutate: (b) => { b.metadata.finalizers = []; } });
    sim.cluster.remove(crd);
    return a;
  },
};

export const CRD_SCENARIOS: Scenario[] = [crdCreate, crCreate, crDelete, crdDelete];

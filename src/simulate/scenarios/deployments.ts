/** Deployments: create, scale, image update, rollout undo, delete. */
import type { Obj } from '../cluster.ts';
import type { Actor } from '../identity.ts';
import { managed, snap, podTemplate, deleteOptions, statusSuccess, type Body } from '../objects.ts';
import type { Act, Sim } from '../sim.ts';
import { MS, rfc3339Sec } from '../time.ts';
import { bump, setManaged } from '../kube.ts';
import { deploymentRollout, garbageCollect, scaleReplicaSet, deploymentStatusUpdate, activePods } from '../workloads.ts';
import { createService } from './services.ts';
import { APPS, idle, imageFor, kubectlManager, kubectlQuery, lastApplied, newImageTag, pickNamespace, uniqueName } from './common.ts';
import type { Scenario } from './types.ts';

/** Creates a Deployment object in the store (no events): used by bootstrap and by helm. */
export function deploymentBodies(opts: { ns: string; name: string; app: string; replicas: number; image: string; port?: number; uid: string; rv: string; created: number; manager: string; apply?: boolean; labels?: Record<string, string>; extraTemplate?: Body }): { req: Body; body: Body } {
  const labels = opts.labels ?? { app: opts.app };
  const selLabels: Record<string, string> = opts.labels ? { 'app.kubernetes.io/name': opts.labels['app.kubernetes.io/name'] ?? opts.app, 'app.kubernetes.io/instance': opts.labels['app.kubernetes.io/instance'] ?? opts.app } : { app: opts.app };
  const cname = opts.image.split('/').pop()!.split(':')[0]!.replace(/[^a-z0-9-]/g, '-');
  const template = podTemplate((opts.labels ? { ...selLabels, ...labels } : labels) as Record<string, string>, [{ name: cname, image: opts.image, port: opts.port, ...(opts.extraTemplate?.container ?? {}) }], opts.extraTemplate ?? {});
  const req: Body = {
    kind: 'Deployment', apiVersion: 'apps/v1',
    metadata: { name: opts.name, namespace: opts.ns, creationTimestamp: null, labels },
    spec: { replicas: opts.replicas, selector: { matchLabels: selLabels }, template, strategy: {} },
    status: {},
  };
  if (opts.apply) req.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied(req) };
  const spec = { ...snap(req.spec), strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } }, revisionHistoryLimit: 10, progressDeadlineSeconds: 600 };
  const body: Body = {
    kind: 'Deployment', apiVersion: 'apps/v1',
    metadata: {
      name: opts.name, namespace: opts.ns, uid: opts.uid, resourceVersion: opts.rv, generation: 1, creationTimestamp: rfc3339Sec(opts.created), labels,
      ...(req.metadata.annotations ? { annotations: req.metadata.annotations } : {}),
      managedFields: managed([{ manager: opts.manager, apiVersion: 'apps/v1', time: opts.created, fields: { metadata: { labels, ...(req.metadata.annotations ? { annotations: req.metadata.annotations } : {}) }, spec: req.spec } }]),
    },
    spec, status: {},
  };
  return { req, body };
}

function pickApp(sim: Sim, ns: string): { app: string; name: string } {
  // often the app's Service already exists (kubectl apply of a manifest directory, re-deploys)
  const orphanSvcs = sim.cluster.list('services', ns, (s) => !!s.app && !sim.cluster.list('apps/deployments', ns, (d) => d.app === s.app).length && !sim.cluster.list('apps/statefulsets', ns, (d) => d.app === s.app).length);
  if (orphanSvcs.length && sim.rng.chance(0.75)) { const s = sim.rng.pick(orphanSvcs); return { app: s.app!, name: s.app! }; }
  const app = sim.rng.pick(APPS).app;
  const name = uniqueName(sim, 'apps/deployments', ns, app);
  return { app: name, name };
}

/**
 * kubectl create/apply of a Deployment. Half of the applies are a manifest with the app's
 * Service too (kubectl apply -f app.yaml): the trigger is the Deployment create, the first
 * object of the manifest; the Service's GET/POST and its endpoint objects are in the context.
 * A few use an image that does not exist: the pods never get ready (ErrImagePull, BackOff).
 */
export const deploymentCreate: Scenario = {
  name: 'deployment-create', shrink: 'deployment-delete', summary: 'kubectl create/apply of a Deployment (often with its Service): ReplicaSet, pods, scheduling, kubelet start, endpoints',
  trigger: 'create apps/deployments', weight: 10,
  run(sim, user, t0) {
    const a = sim.action(user, t0, { verb: 'create', res: 'apps/deployments' });
    const ns = pickNamespace(a);
    const { app, name } = pickApp(sim, ns);
    let { image, port } = imageFor(app.replace(/-\d+$/, ''));
    const badImage = sim.rng.chance(0.05);
    if (badImage) image = image.replace(/:[^:]+$/, `:${sim.rng.pick(['lates', 'v9.9.9', '1.25.44', 'stable-'])}`);
    const replicas = sim.rng.weighted([[1, 5], [2, 3], [3, 2], [5, 0.5]] as const);
    const apply = sim.rng.chance(0.55);
    const withService = apply && port !== undefined && !sim.cluster.list('services', ns, (s) => s.app === app).length && sim.rng.chance(0.6);
    let t = a.discovery(t0);
    if (apply) t = a.think(a.call({ at: t, verb: 'get', res: 'apps/deployments', ns, name, code: 404 }));
    const uid = sim.rng.uuid();
    const latency = Math.round(sim.rng.around(5 * MS));
    const created = t + latency;
    // applied manifests often mount a ConfigMap or Secret of the namespace (the kubelet then watches it)
    const cms = apply ? sim.cluster.list('configmaps', ns, (c) => c.name !== 'kube-root-ca.crt' && !c.gone) : [];
    const secrets = apply ? sim.cluster.list('secrets', ns, (c) => !c.gone && c.body.type !== 'helm.sh/release.v1') : [];
    let extraTemplate: Body | undefined;
    if (cms.length && sim.rng.chance(0.4)) {
      const cm = sim.rng.pick(cms);
      extraTemplate = { volumes: [{ name: 'config', configMap: { name: cm.name, defaultMode: 420 } }], container: { volumeMounts: [{ name: 'config', mountPath: '/etc/app', readOnly: true }] } };
    } else if (secrets.length && sim.rng.chance(0.3)) {
      const sec = sim.rng.pick(secrets);
      extraTemplate = { volumes: [{ name: 'credentials', secret: { secretName: sec.name, defaultMode: 420 } }], container: { volumeMounts: [{ name: 'credentials', mountPath: '/var/run/secrets/app', readOnly: true }] } };
    }
    const { req, body } = deploymentBodies({ ns, name, app, replicas, image, port, uid, rv: sim.cluster.rv(created), created, manager: kubectlManager(apply ? 'apply' : 'create'), apply, extraTemplate });
    if (!apply) delete req.metadata.namespace;
    const end = a.call({ trigger: true, at: t, verb: 'create', res: 'apps/deployments', ns, query: kubectlQuery(apply ? 'apply' : 'create'), req, resp: snap(body), latency });
    const dep = sim.cluster.add({ res: 'apps/deployments', ns, name, uid, body, createdAt: end, app });
    dep.x.rs = [];
    if (withService) {
      const ts = a.think(a.call({ at: a.think(end, 4 * MS), verb: 'get', res: 'services', ns, name: app, code: 404 }), 4 * MS);
      createService(a, ts, { ns, name: app, app, port: port === 8080 ? 80 : port!, targetPort: port!, apply: true });
    }
    if (badImage) dep.x.startOpts = { badImage: true };
    deploymentRollout(a, end, dep);
    if (badImage) delete dep.x.startOpts;
    sim.cluster.busy(a.end, dep);
    return a;
  },
};

export function ownerDeployment(sim: Sim, rs: Obj): Obj | undefined {
  return rs.ownerUid ? sim.cluster.byId(rs.ownerUid) : undefined;
}

export const deploymentScale: Scenario = {
  name: 'deployment-scale', summary: 'kubectl scale deployment: scale subresource patch, ReplicaSet resize, pods created or terminated',
  trigger: 'patch-update apps/deployments/scale', weight: 6, fallback: 'deployment-create',
  run(sim, user, t0) {
    const deps = idle(sim, 'apps/deployments', t0, (d) => !!d.x.current);
    if (!deps.length) return undefined;
    const dep = sim.rng.pick(deps);
    const a = sim.action(user, t0, { verb: 'patch', res: 'apps/deployments', sub: 'scale' });
    const from = dep.body.spec.replicas as number;
    let to = from;
    while (to === from) to = sim.rng.weighted([[0, 0.5], [1, 2], [2, 3], [3, 3], [4, 1], [5, 1]] as const);
    const t = a.discovery(t0);
    dep.body.spec.replicas = to;
    dep.body.metadata.generation++;
    const latency = Math.round(sim.rng.around(4 * MS));
    bump(a, dep, t + latency);
    setManaged(dep.body, { manager: 'kubectl-scale', apiVersion: 'apps/v1', time: t, fields: { spec: { replicas: to } }, subresource: 'scale' });
    const sel = Object.entries(dep.body.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',');
    const scale = {
      kind: 'Scale', apiVersion: 'autoscaling/v1',
      metadata: { name: dep.name, namespace: dep.ns, uid: dep.uid, resourceVersion: dep.body.metadata.resourceVersion, creationTimestamp: rfc3339Sec(dep.createdAt) },
      spec: { replicas: to }, status: { replicas: dep.body.status?.replicas ?? from, selector: sel },
    };
    const end = a.call({ trigger: true, at: t, verb: 'patch', res: 'apps/deployments', ns: dep.ns, name: dep.name, sub: 'scale', query: kubectlQuery('scale'), req: { spec: { replicas: to } }, resp: scale, latency });
    const rs: Obj = dep.x.current;
    scaleReplicaSet(a, end + Math.round(sim.rng.around(2 * MS)), dep, rs, to);
    deploymentStatusUpdate(a, a.end + Math.round(sim.rng.around(3 * MS)), dep, undefined, 0.1);
    sim.cluster.busy(a.end, dep, rs);
    return a;
  },
};

export const deploymentDelete: Scenario = {
  name: 'deployment-delete', summary: 'kubectl delete deployment: garbage collector removes ReplicaSets and pods, kubelets stop them, endpoints shrink',
  trigger: 'delete apps/deployments', weight: 4, fallback: 'deployment-create',
  run(sim, user, t0) {
    const deps = idle(sim, 'apps/deployments', t0, (d) => !d.x.helm);
    if (!deps.length) return undefined;
    const dep = sim.rng.pick(deps);
    const a = sim.action(user, t0, { verb: 'delete', res: 'apps/deployments' });
    const t = a.discovery(t0);
    const end = a.call({ trigger: true, at: t, verb: 'delete', res: 'apps/deployments', ns: dep.ns, name: dep.name, req: deleteOptions({ propagationPolicy: 'Background' }), resp: statusSuccess('apps', 'deployments', dep.name, dep.uid) });
    dep.x.deletingAt = t;
    sim.cluster.remove(dep);
    garbageCollect(a, end, dep);
    return a;
  },
};

/** What a kubectl command changes in a deployment's pod template, and how it says so. */
export interface TemplateEdit {
  /** field manager and `fieldManager` query of the kubectl subcommand (e.g. `kubectl-set`, `set`) */
  manager: string;
  query: Parameters<typeof kubectlQuery>[0];
  /** managedFields entry of the change */
  fields: Body;
  /** the PATCH body */
  patch: Body;
}

/**
 * A kubectl command that patches the pod template of a running deployment (set image, rollout
 * restart): pick one, GET it, apply `edit` to the template, PATCH (the trigger), then the rolling
 * update. `edit` mutates `dep.body.spec.template` at time `t` and describes the change.
 */
export function patchPodTemplate(sim: Sim, user: Actor, t0: number, edit: (dep: Obj, t: number, a: Act) => TemplateEdit): Act | undefined {
  const deps = idle(sim, 'apps/deployments', t0, (d) => !!d.x.current && (d.body.spec.replicas ?? 0) > 0);
  if (!deps.length) return undefined;
  const dep = sim.rng.pick(deps);
  const a = sim.action(user, t0, { verb: 'patch', res: 'apps/deployments' });
  let t = a.discovery(t0);
  // kubectl reads the object first
  t = a.think(a.call({ at: t, verb: 'get', res: 'apps/deployments', ns: dep.ns, name: dep.name }));
  const change = edit(dep, t, a);
  dep.body.metadata.generation++;
  const latency = Math.round(sim.rng.around(5 * MS));
  bump(a, dep, t + latency);
  setManaged(dep.body, { manager: change.manager, apiVersion: 'apps/v1', time: t, fields: change.fields });
  const end = a.call({ trigger: true, at: t, verb: 'patch', res: 'apps/deployments', ns: dep.ns, name: dep.name, query: kubectlQuery(change.query), req: change.patch, resp: snap(dep.body), latency });
  deploymentRollout(a, end, dep);
  sim.cluster.busy(a.end, dep);
  return a;
}

/** kubectl set image: a new pod template → new ReplicaSet, rolling update, old ReplicaSet scaled to 0. */
export const deploymentImage: Scenario = {
  name: 'deployment-image', summary: 'kubectl set image: new ReplicaSet, rolling update, old ReplicaSet scaled down',
  trigger: 'patch-update apps/deployments', weight: 4, fallback: 'deployment-create',
  run(sim, user, t0) {
    return patchPodTemplate(sim, user, t0, (dep, _t, a) => {
      const c = dep.body.spec.template.spec.containers[0];
      const image = newImageTag(c.image, a);
      c.image = image;
      return {
        manager: 'kubectl-set', query: 'set',
        fields: { spec: { template: { spec: { containers: [{ name: c.name, image }] } } } },
        patch: { spec: { template: { spec: { '$setElementOrder/containers': [{ name: c.name }], containers: [{ image, name: c.name }] } } } },
      };
    });
  },
};

/**
 * kubectl rollout undo: the trigger is the PATCH of the deployment's template back to the
 * previous revision's (kubectl first lists the ReplicaSets to find it; those reads belong to
 * the action's context).
 */
export const deploymentUndo: Scenario = {
  name: 'deployment-undo', summary: 'kubectl rollout undo: list ReplicaSets, patch template back, old ReplicaSet scaled up, current one down',
  trigger: 'patch-update apps/deployments', weight: 2, fallback: 'deployment-image',
  run(sim, user, t0) {
    const deps = idle(sim, 'apps/deployments', t0, (d) => (d.x.rs ?? []).filter((r: Obj) => !r.gone).length >= 2 && (d.body.spec.replicas ?? 0) > 0);
    if (!deps.length) return undefined;
    const dep = sim.rng.pick(deps);
    const rss: Obj[] = dep.x.rs.filter((r: Obj) => !r.gone);
    const cur: Obj = dep.x.current;
    const prev = rss.filter((r) => r !== cur).sort((x, y) => (y.x.revision ?? 0) - (x.x.revision ?? 0))[0]!;
    const a = sim.action(user, t0, { verb: 'patch', res: 'apps/deployments' });
    let t = a.discovery(t0);
    t = a.think(a.call({ at: t, verb: 'get', res: 'apps/deployments', ns: dep.ns, name: dep.name }));
    const sel = Object.entries(dep.body.spec.selector.matchLabels).map(([k, v]) => `${k}%3D${v}`).join('%2C');
    t = a.think(a.call({ at: t, verb: 'list', res: 'apps/replicasets', ns: dep.ns, query: `labelSelector=${sel}` }));
    const template = snap(prev.body.spec.template);
    delete template.metadata.labels['pod-template-hash'];
    dep.body.spec.template = template;
    dep.body.metadata.generation++;
    const revision = (dep.x.revision ?? 1) + 1;
    dep.x.revision = revision;
    dep.body.metadata.annotations = { ...(dep.body.metadata.annotations ?? {}), 'deployment.kubernetes.io/revision': String(revision) };
    const latency = Math.round(sim.rng.around(5 * MS));
    bump(a, dep, t + latency);
    const patch = [{ op: 'replace', path: '/spec/template', value: template }, { op: 'replace', path: '/metadata/annotations', value: { 'deployment.kubernetes.io/revision': String(revision - 1) } }];
    const end = a.call({ trigger: true, at: t, verb: 'patch', res: 'apps/deployments', ns: dep.ns, name: dep.name, query: kubectlQuery('rollout'), req: patch, resp: snap(dep.body), latency });
    // the controller recognises the old template: it scales the previous ReplicaSet back up
    const ctl = sim.sys.ctrl['deployment-controller'];
    prev.body.metadata.annotations = { ...prev.body.metadata.annotations, 'deployment.kubernetes.io/revision': String(revision), 'deployment.kubernetes.io/revision-history': String(prev.x.revision) };
    prev.x.revision = revision;
    dep.x.current = prev;
    const want = dep.body.spec.replicas;
    let e = scaleReplicaSet(a, end + Math.round(sim.rng.around(2 * MS)), dep, prev, want);
    const readyAt = Math.max(...activePods(prev, e).map((p) => p.x.readyAt ?? e), e);
    e = scaleReplicaSet(a, readyAt + Math.round(sim.rng.around(5 * MS)), dep, cur, 0);
    deploymentStatusUpdate(a, e + Math.round(sim.rng.around(3 * MS)), dep, undefined, 0.1);
    void ctl;
    sim.cluster.busy(a.end, dep, prev, cur);
    return a;
  },
};

export const DEPLOYMENT_SCENARIOS: Scenario[] = [deploymentCreate, deploymentScale, deploymentImage, deploymentUndo, deploymentDelete];
export type { Actor };

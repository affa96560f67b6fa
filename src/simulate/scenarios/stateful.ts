/** StatefulSets with volume claims (dynamic provisioning), DaemonSets, bare ReplicaSets. */
import type { Obj, SimNode } from '../cluster.ts';
import { createObject, createPod, endpointsSync, kubeletStartPod, recordEvent, schedulePod, updateObject, deleteObject, pickNode } from '../kube.ts';
import { podTemplate, snap, type Body } from '../objects.ts';
import type { Act } from '../sim.ts';
import { MS, SEC } from '../time.ts';
import { activePods, garbageCollect, rsReconcile, statusUpdate, templateHash } from '../workloads.ts';
import { createService } from './services.ts';
import { APPS, idle, imageFor, kubectlManager, kubectlQuery, lastApplied, pickNamespace, uniqueName } from './common.ts';
import type { Scenario } from './types.ts';

const STORAGE_CLASS = 'standard';
const PROVISIONER = 'rancher.io/local-path';

function controllerRevision(a: Act, t: number, owner: Obj, ownerKind: string, actor = a.sys.ctrl['statefulset-controller']): Obj {
  const hash = templateHash(a);
  const req: Body = {
    kind: 'ControllerRevision', apiVersion: 'apps/v1',
    metadata: {
      name: `${owner.name}-${hash}`, namespace: owner.ns, creationTimestamp: null,
      labels: { ...(owner.body.spec.template.metadata.labels ?? {}), 'controller.kubernetes.io/hash': hash },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: ownerKind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true }],
    },
    data: { spec: { template: { $patch: 'replace', ...snap(owner.body.spec.template) } } }, revision: 1,
  };
  const cr = createObject(a, { actor, at: t, res: 'apps/controllerrevisions', ns: owner.ns, req, manager: 'kube-controller-manager', owner });
  owner.x.revisionName = cr.name;
  return cr;
}

/**
 * Dynamic provisioning of a WaitForFirstConsumer claim for a pod: the PV controller waits,
 * the scheduler picks a node and annotates the claim, the provisioner creates the PV (with
 * claimRef), the binder binds PV and claim; then the scheduler binds the pod. Returns the
 * pod's binding time.
 */
export function provisionAndBind(a: Act, t: number, pod: Obj, pvc: Obj): number {
  const rng = a.rng;
  const binder = a.sys.ctrl['persistent-volume-binder'];
  const sched = a.sys.scheduler;
  const prov = a.sys.localPath;
  let tt = recordEvent(a, pvc.createdAt + Math.round(rng.around(4 * MS)), binder, pvc, 'PersistentVolumeClaim', 'v1', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding', { component: 'persistentvolume-controller' });
  tt = Math.max(tt, t);
  const node: SimNode = pickNode(a, pod);
  tt = updateObject(a, { actor: sched, at: tt + Math.round(rng.around(4 * MS)), obj: pvc, manager: 'kube-scheduler', mutate: (b) => { b.metadata.annotations = { ...(b.metadata.annotations ?? {}), 'volume.kubernetes.io/selected-node': node.name }; } });
  tt = updateObject(a, { actor: binder, at: tt + Math.round(rng.around(5 * MS)), obj: pvc, manager: 'kube-controller-manager', conflictP: 0.2, mutate: (b) => { b.metadata.annotations = { ...b.metadata.annotations, 'volume.beta.kubernetes.io/storage-provisioner': PROVISIONER, 'volume.kubernetes.io/storage-provisioner': PROVISIONER }; } });
  tt = recordEvent(a, tt + Math.round(rng.around(2 * MS)), binder, pvc, 'PersistentVolumeClaim', 'v1', 'ExternalProvisioning', `Waiting for a volume to be created either by the external provisioner '${PROVISIONER}' or manually by the system administrator. If volume creation is delayed, please verify that your external provisioner is running and correctly registered.`, { component: 'persistentvolume-controller' });
  tt = recordEvent(a, tt + Math.round(rng.around(20 * MS)), prov, pvc, 'PersistentVolumeClaim', 'v1', 'Provisioning', `External provisioner is provisioning volume for claim "${pvc.ns}/${pvc.name}"`, { component: `${PROVISIONER}_local-path-provisioner-7577fdbbfb-${rng.suffix(5)}_${rng.uuid()}`, manager: 'local-path-provisioner' });
  const pvName = `pvc-${pvc.uid}`;
  const storage = pvc.body.spec.resources.requests.storage;
  const pvReq: Body = {
    kind: 'PersistentVolume', apiVersion: 'v1',
    metadata: { name: pvName, creationTimestamp: null, annotations: { 'local.path.provisioner/selected-node': node.name, 'pv.kubernetes.io/provisioned-by': PROVISIONER }, finalizers: ['kubernetes.io/pv-protection'] },
    spec: {
      capacity: { storage }, hostPath: { path: `/opt/local-path-provisioner/${pvName}_${pvc.ns}_${pvc.name}`, type: 'DirectoryOrCreate' }, accessModes: ['ReadWriteOnce'],
      claimRef: { kind: 'PersistentVolumeClaim', namespace: pvc.ns, name: pvc.name, uid: pvc.uid, apiVersion: 'v1', resourceVersion: pvc.body.metadata.resourceVersion },
      persistentVolumeReclaimPolicy: 'Delete', storageClassName: STORAGE_CLASS, volumeMode: 'Filesystem',
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node.name] }] }] } },
    },
    status: {},
  };
  // the provisioner's helper pod creates the directory first (a second or two)
  const pv = createObject(a, { actor: prov, at: tt + Math.round(rng.around(1.6 * SEC, 0.4)), res: 'persistentvolumes', req: pvReq, manager: 'local-path-provisioner', status: { phase: 'Pending' } });
  pvc.x.pv = pv;
  tt = recordEvent(a, pv.createdAt + Math.round(rng.around(2 * MS)), prov, pvc, 'PersistentVolumeClaim', 'v1', 'ProvisioningSucceeded', `Successfully provisioned volume ${pvName}`, { component: `${PROVISIONER}_local-path-provisioner`, manager: 'local-path-provisioner' });
  tt = updateObject(a, { actor: binder, at: pv.createdAt + Math.round(rng.around(8 * MS)), obj: pv, sub: 'status', manager: 'kube-controller-manager', mutate: (b) => { b.status = { phase: 'Bound', lastPhaseTransitionTime: b.metadata.creationTimestamp }; } });
  tt = updateObject(a, { actor: binder, at: tt + Math.round(rng.around(3 * MS)), obj: pvc, manager: 'kube-controller-manager', mutate: (b) => { b.spec.volumeName = pvName; b.metadata.annotations = { ...b.metadata.annotations, 'pv.kubernetes.io/bind-completed': 'yes', 'pv.kubernetes.io/bound-by-controller': 'yes' }; } });
  tt = updateObject(a, { actor: binder, at: tt + Math.round(rng.around(3 * MS)), obj: pvc, sub: 'status', manager: 'kube-controller-manager', mutate: (b) => { b.status = { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage } }; } });
  // the scheduler retries the pod once the claim is bound
  return schedulePod(a, tt + Math.round(rng.around(120 * MS, 0.6)), pod, node);
}

function stsStatus(sts: Obj, t: number): Body {
  const pods = activePods(sts, t);
  const ready = pods.filter((p) => p.x.readyAt !== undefined && p.x.readyAt <= t).length;
  return {
    observedGeneration: sts.body.metadata.generation, replicas: pods.length, ...(ready ? { readyReplicas: ready, availableReplicas: ready } : { availableReplicas: 0 }),
    currentReplicas: pods.length, updatedReplicas: pods.length, currentRevision: sts.x.revisionName, updateRevision: sts.x.revisionName, collisionCount: 0,
  };
}

/** The StatefulSet controller creates ordinal pods one by one (OrderedReady), each with its claim. */
export function stsScaleUp(a: Act, t: number, sts: Obj, from: number, to: number): number {
  const rng = a.rng;
  const ctl = a.sys.ctrl['statefulset-controller'];
  const pods: Obj[] = sts.x.pods ?? (sts.x.pods = []);
  let tt = t;
  let end = t;
  for (let i = from; i < to; i++) {
    const podName = `${sts.name}-${i}`;
    const claims: Obj[] = [];
    for (const vct of (sts.body.spec.volumeClaimTemplates ?? []) as Body[]) {
      const claimName = `${vct.metadata.name}-${podName}`;
      const existing = a.cluster.get('persistentvolumeclaims', sts.ns, claimName);
      if (existing) { claims.push(existing); continue; }
      const req: Body = { kind: 'PersistentVolumeClaim', apiVersion: 'v1', metadata: { name: claimName, namespace: sts.ns, creationTimestamp: null, labels: snap(sts.body.spec.selector.matchLabels) }, spec: snap(vct.spec), status: { phase: 'Pending' } };
      const pvc = createObject(a, { actor: ctl, at: tt + Math.round(rng.around(2 * MS)), res: 'persistentvolumeclaims', ns: sts.ns, req, manager: 'kube-controller-manager', defaults: (b) => { b.metadata.finalizers = ['kubernetes.io/pvc-protection']; b.spec.volumeMode = 'Filesystem'; }, app: sts.app });
      tt = recordEvent(a, pvc.createdAt + Math.round(rng.around(1 * MS)), ctl, sts, 'StatefulSet', 'apps/v1', 'SuccessfulCreate', `create Claim ${claimName} Pod ${podName} in StatefulSet ${sts.name} success`, { component: 'statefulset-controller' });
      claims.push(pvc);
    }
    const tpl = snap(sts.body.spec.template);
    tpl.metadata.labels = { ...tpl.metadata.labels, 'apps.kubernetes.io/pod-index': String(i), 'controller-revision-hash': sts.x.revisionName, 'statefulset.kubernetes.io/pod-name': podName };
    tpl.spec.hostname = podName;
    tpl.spec.subdomain = sts.body.spec.serviceName;
    tpl.spec.volumes = [...(tpl.spec.volumes ?? []), ...claims.map((c) => ({ name: c.name.replace(`-${podName}`, ''), persistentVolumeClaim: { claimName: c.name } }))];
    const { pod, end: pend } = createPod(a, tt + Math.round(rng.around(2 * MS)), { actor: ctl, ns: sts.ns!, template: tpl, name: podName, owner: { obj: sts, apiVersion: 'apps/v1', kind: 'StatefulSet' }, manager: 'kube-controller-manager' });
    pods.push(pod);
    let e = recordEvent(a, pend + Math.round(rng.around(1 * MS)), ctl, sts, 'StatefulSet', 'apps/v1', 'SuccessfulCreate', `create Pod ${podName} in StatefulSet ${sts.name} successful`, { component: 'statefulset-controller' });
    e = statusUpdate(a, e + Math.round(rng.around(2 * MS)), sts, ctl, 'apps/v1', stsStatus(sts, e));
    const bound = claims.length && !claims[0]!.body.spec.volumeName ? provisionAndBind(a, pend, pod, claims[0]!) : schedulePod(a, pend, pod);
    const r = kubeletStartPod(a, bound, pod, {
      onIp: (ti) => endpointsSync(a, ti + Math.round(rng.around(8 * MS)), pod.ns!, pod, 'notready'),
      onReady: (ti) => Math.max(endpointsSync(a, ti + Math.round(rng.around(8 * MS)), pod.ns!, pod, 'ready'), statusUpdate(a, ti + Math.round(rng.around(4 * MS)), sts, ctl, 'apps/v1', stsStatus(sts, ti))),
    });
    end = Math.max(end, e, r.end);
    tt = r.end + Math.round(rng.around(5 * MS)); // OrderedReady: the next ordinal once this one is ready
  }
  a.cluster.busy(end, sts);
  return end;
}

/**
 * kubectl apply of a StatefulSet manifest with its headless Service. Trigger: the StatefulSet
 * create (the Service is the manifest's second object; its requests are in the context).
 */
export const statefulsetCreate: Scenario = {
  name: 'statefulset-create', shrink: 'statefulset-delete', summary: 'kubectl apply StatefulSet + headless Service: ControllerRevision, per-ordinal PVC, PV provisioning and binding, ordered pods',
  trigger: 'create apps/statefulsets', weight: 2,
  run(sim, user, t0) {
    const a = sim.action(user, t0, { verb: 'create', res: 'apps/statefulsets' });
    const ns = pickNamespace(a);
    const base = sim.rng.pick(['redis', 'postgres', 'kafka', 'zookeeper', 'etcd', 'mongo']);
    const name = uniqueName(sim, 'apps/statefulsets', ns, base);
    const image = { redis: 'redis:7.2.4', postgres: 'postgres:16.2', kafka: 'bitnami/kafka:3.7.0', zookeeper: 'zookeeper:3.9.2', etcd: 'quay.io/coreos/etcd:v3.5.13', mongo: 'mongo:7.0.8' }[base]!;
    const port = { redis: 6379, postgres: 5432, kafka: 9092, zookeeper: 2181, etcd: 2379, mongo: 27017 }[base]!;
    const replicas = sim.rng.weighted([[1, 2], [2, 1], [3, 2]] as const);
    let t = a.discovery(t0);
    t = a.think(a.call({ at: t, verb: 'get', res: 'apps/statefulsets', ns, name, code: 404 }));
    const labels = { app: name };
    const tpl = podTemplate(labels, [{ name: base, image, port, volumeMounts: [{ name: 'data', mountPath: `/var/lib/${base}` }], ...(base === 'postgres' ? { env: { POSTGRES_PASSWORD: 'example', PGDATA: '/var/lib/postgres/pgdata' } } : {}) }]);
    const req: Body = {
      kind: 'StatefulSet', apiVersion: 'apps/v1', metadata: { name, namespace: ns, creationTimestamp: null, labels },
      spec: {
        replicas, selector: { matchLabels: labels }, template: tpl, serviceName: name,
        volumeClaimTemplates: [{ kind: 'PersistentVolumeClaim', apiVersion: 'v1', metadata: { name: 'data', creationTimestamp: null }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: sim.rng.pick(['1Gi', '5Gi', '10Gi']) } }, storageClassName: STORAGE_CLASS, volumeMode: 'Filesystem' }, status: { phase: 'Pending' } }],
        updateStrategy: {},
      },
      status: { replicas: 0, availableReplicas: 0 },
    };
    req.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied(req) };
    const sts = createObject(a, {
      at: t, res: 'apps/statefulsets', ns, req, manager: kubectlManager('apply'), query: kubectlQuery('apply'), trigger: true, app: name,
      defaults: (b) => { b.spec = { ...b.spec, podManagementPolicy: 'OrderedReady', updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } }, revisionHistoryLimit: 10, persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' } }; },
    });
    // the headless Service from the same manifest
    let ts = a.think(a.call({ at: a.think(sts.createdAt, 4 * MS), verb: 'get', res: 'services', ns, name, code: 404 }), 4 * MS);
    if (!sim.cluster.exists('services', ns, name)) {
      const svc = createService(a, ts, { ns, name, app: name, port, targetPort: port, apply: true, headless: true });
      ts = svc.createdAt;
    }
    const ctl = sim.sys.ctrl['statefulset-controller'];
    controllerRevision(a, sts.createdAt + Math.round(sim.rng.around(3 * MS)), sts, 'StatefulSet', ctl);
    stsScaleUp(a, sts.createdAt + Math.round(sim.rng.around(6 * MS)), sts, 0, replicas);
    sim.cluster.busy(a.end, sts);
    return a;
  },
};

/** kubectl delete statefulset: the garbage collector deletes pods and revisions; claims and volumes stay (Retain). */
export const statefulsetDelete: Scenario = {
  name: 'statefulset-delete', summary: 'kubectl delete statefulset: pods and ControllerRevisions garbage collected, PVCs retained',
  trigger: 'delete apps/statefulsets', weight: 0.8, fallback: 'statefulset-create',
  run(sim, user, t0) {
    const all = idle(sim, 'apps/statefulsets', t0, (s) => !s.x.helm);
    if (!all.length) return undefined;
    const sts = sim.rng.pick(all);
    const a = sim.action(user, t0, { verb: 'delete', res: 'apps/statefulsets' });
    const e = deleteObject(a, { at: a.discovery(t0), obj: sts, trigger: true, propagation: 'Background' });
    garbageCollect(a, e, sts);
    return a;
  },
};

/** kubectl delete pvc of a released claim: protection finalizer, PV released and deleted (reclaim Delete). */
export const pvcDelete: Scenario = {
  name: 'pvc-delete', summary: 'kubectl delete pvc: pvc-protection finalizer removed, PV released and deleted by the provisioner',
  trigger: 'delete persistentvolumeclaims', weight: 0.6, fallback: 'statefulset-delete',
  run(sim, user, t0) {
    const pvcs = idle(sim, 'persistentvolumeclaims', t0, (c) => !!c.body.spec.volumeName && !sim.cluster.list('pods', c.ns, (p) => (p.body.spec.volumes ?? []).some((v: Body) => v.persistentVolumeClaim?.claimName === c.name)).length);
    if (!pvcs.length) return undefined;
    const pvc = sim.rng.pick(pvcs);
    const rng = sim.rng;
    const a = sim.action(user, t0, { verb: 'delete', res: 'persistentvolumeclaims' });
    let t = deleteObject(a, { at: a.discovery(t0), obj: pvc, trigger: true, keep: true });
    const pvcProt = sim.sys.ctrl['pvc-protection-controller'];
    t = updateObject(a, { actor: pvcProt, at: t + Math.round(rng.around(10 * MS)), obj: pvc, manager: 'kube-controller-manager', mutate: (b) => { b.metadata.finalizers = []; } });
    sim.cluster.remove(pvc);
    const pv: Obj | undefined = pvc.x.pv ?? sim.cluster.get('persistentvolumes', undefined, pvc.body.spec.volumeName);
    if (pv && !pv.gone) {
      const binder = sim.sys.ctrl['persistent-volume-binder'];
      t = updateObject(a, { actor: binder, at: t + Math.round(rng.around(15 * MS)), obj: pv, sub: 'status', manager: 'kube-controller-manager', mutate: (b) => { b.status = { phase: 'Released', lastPhaseTransitionTime: b.metadata.creationTimestamp }; } });
      t = deleteObject(a, { actor: sim.sys.localPath, at: t + Math.round(rng.around(1.5 * SEC, 0.4)), obj: pv, keep: true });
      t = updateObject(a, { actor: sim.sys.ctrl['pv-protection-controller'], at: t + Math.round(rng.around(10 * MS)), obj: pv, manager: 'kube-controller-manager', mutate: (b) => { b.metadata.finalizers = []; } });
      sim.cluster.remove(pv);
      recordEvent(a, t + Math.round(rng.around(2 * MS)), sim.sys.localPath, pv, 'PersistentVolume', 'v1', 'VolumeDelete', `Successfully deleted volume ${pv.name}`, { component: `${PROVISIONER}_local-path-provisioner`, manager: 'local-path-provisioner' });
    }
    return a;
  },
};

/** DaemonSet pods are pinned to each node with a node affinity on metadata.name. */
export const daemonsetCreate: Scenario = {
  name: 'daemonset-create', shrink: 'daemonset-delete', summary: 'kubectl apply DaemonSet: ControllerRevision, one pod per node (node affinity), scheduling, kubelet start',
  trigger: 'create apps/daemonsets', weight: 1,
  run(sim, user, t0) {
    const a = sim.action(user, t0, { verb: 'create', res: 'apps/daemonsets' });
    const ns = sim.rng.chance(0.5) ? pickNamespace(a) : 'default';
    const base = sim.rng.pick(['node-exporter', 'fluent-bit', 'log-agent', 'falco', 'cilium-agent-canary']);
    const name = uniqueName(sim, 'apps/daemonsets', ns, base);
    const image = { 'node-exporter': 'quay.io/prometheus/node-exporter:v1.8.0', 'fluent-bit': 'cr.fluentbit.io/fluent/fluent-bit:3.0.4', 'log-agent': 'ghcr.io/acme/log-agent:v0.6.0', falco: 'falcosecurity/falco-no-driver:0.37.1', 'cilium-agent-canary': 'quay.io/cilium/cilium:v1.15.5' }[base]!;
    let t = a.discovery(t0);
    t = a.think(a.call({ at: t, verb: 'get', res: 'apps/daemonsets', ns, name, code: 404 }));
    const labels = { app: name };
    const privileged = base === 'falco' || base === 'cilium-agent-canary';
    const tpl = podTemplate(labels, [{ name: base, image, port: base === 'node-exporter' ? 9100 : undefined, volumeMounts: [{ name: 'host', mountPath: '/host', readOnly: true }], ...(privileged ? { securityContext: { privileged: true } } : {}) }], {
      volumes: [{ name: 'host', hostPath: { path: '/', type: '' } }], hostNetwork: base === 'node-exporter',
      tolerations: [{ operator: 'Exists' }],
    });
    const req: Body = { kind: 'DaemonSet', apiVersion: 'apps/v1', metadata: { name, namespace: ns, creationTimestamp: null, labels }, spec: { selector: { matchLabels: labels }, template: tpl, updateStrategy: {} }, status: { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 } };
    req.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied(req) };
    const ds = createObject(a, {
      at: t, res: 'apps/daemonsets', ns, req, manager: kubectlManager('apply'), query: kubectlQuery('apply'), trigger: true, app: name,
      defaults: (b) => { b.spec = { ...b.spec, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, revisionHistoryLimit: 10 }; b.metadata.annotations = { ...b.metadata.annotations, 'deprecated.daemonset.template.generation': '1' }; },
    });
    const ctl = sim.sys.ctrl['daemon-set-controller'];
    const rng = sim.rng;
    controllerRevision(a, ds.createdAt + Math.round(rng.around(3 * MS)), ds, 'DaemonSet', ctl);
    const pods: Obj[] = ds.x.pods = [];
    const nodes = sim.cluster.nodes;
    const dsStatus = (tt: number) => {
      const act = activePods(ds, tt);
      const ready = act.filter((p) => p.x.readyAt !== undefined && p.x.readyAt <= tt).length;
      return { currentNumberScheduled: act.length, numberMisscheduled: 0, desiredNumberScheduled: nodes.length, numberReady: ready, observedGeneration: 1, ...(act.length ? { updatedNumberScheduled: act.length } : {}), ...(ready ? { numberAvailable: ready } : {}), ...(nodes.length - ready > 0 ? { numberUnavailable: nodes.length - ready } : {}) };
    };
    let tc = ds.createdAt + Math.round(rng.around(6 * MS));
    const made: { pod: Obj; end: number; node: (typeof nodes)[number] }[] = [];
    for (const n of nodes) {
      const ptpl = snap(ds.body.spec.template);
      ptpl.metadata.labels = { ...ptpl.metadata.labels, 'controller-revision-hash': ds.x.revisionName.split('-').pop(), 'pod-template-generation': '1' };
      ptpl.spec.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [n.name] }] }] } } };
      ptpl.spec.tolerations = [...(ptpl.spec.tolerations ?? []),
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' }, { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
        { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }];
      const r = createPod(a, tc, { actor: ctl, ns, template: ptpl, generateName: `${name}-`, owner: { obj: ds, apiVersion: 'apps/v1', kind: 'DaemonSet' }, manager: 'kube-controller-manager' });
      pods.push(r.pod);
      recordEvent(a, r.end + Math.round(rng.around(1 * MS)), ctl, ds, 'DaemonSet', 'apps/v1', 'SuccessfulCreate', `Created pod: ${r.pod.name}`, { component: 'daemonset-controller' });
      made.push({ ...r, node: n });
      tc = r.end + Math.round(rng.around(1 * MS));
    }
    statusUpdate(a, tc + Math.round(rng.around(3 * MS)), ds, ctl, 'apps/v1', dsStatus(tc));
    for (const m of made) {
      const bound = schedulePod(a, m.end, m.pod, m.node);
      kubeletStartPod(a, bound, m.pod, { onReady: (ti) => statusUpdate(a, ti + Math.round(rng.around(5 * MS)), ds, ctl, 'apps/v1', dsStatus(ti)) });
    }
    sim.cluster.busy(a.end, ds);
    return a;
  },
};

export const daemonsetDelete: Scenario = {
  name: 'daemonset-delete', summary: 'kubectl delete daemonset: pods and revisions garbage collected, kubelets stop the pods',
  trigger: 'delete apps/daemonsets', weight: 0.6, fallback: 'daemonset-create',
  run(sim, user, t0) {
    const all = idle(sim, 'apps/daemonsets', t0);
    if (!all.length) return undefined;
    const ds = sim.rng.pick(all);
    const a = sim.action(user, t0, { verb: 'delete', res: 'apps/daemonsets' });
    const e = deleteObject(a, { at: a.discovery(t0), obj: ds, trigger: true, propagation: 'Background' });
    garbageCollect(a, e, ds);
    return a;
  },
};

/** A bare ReplicaSet (kubectl apply -f rs.yaml): the ReplicaSet controller alone. */
export const replicasetCreate: Scenario = {
  name: 'replicaset-create', shrink: 'replicaset-delete', summary: 'kubectl apply of a bare ReplicaSet: pods created by the ReplicaSet controller',
  trigger: 'create apps/replicasets', weight: 1,
  run(sim, user, t0) {
    const a = sim.action(user, t0, { verb: 'create', res: 'apps/replicasets' });
    const ns = pickNamespace(a);
    const app = sim.rng.pick(APPS).app;
    const name = uniqueName(sim, 'apps/replicasets', ns, `${app}-rs`);
    const { image, port } = imageFor(app);
    const labels = { app: name, tier: 'legacy' };
    const replicas = sim.rng.int(1, 3);
    let t = a.discovery(t0);
    t = a.think(a.call({ at: t, verb: 'get', res: 'apps/replicasets', ns, name, code: 404 }));
    const req: Body = { kind: 'ReplicaSet', apiVersion: 'apps/v1', metadata: { name, namespace: ns, creationTimestamp: null, labels }, spec: { replicas, selector: { matchLabels: labels }, template: podTemplate(labels, [{ name: app, image, port }]) }, status: { replicas: 0 } };
    req.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied(req) };
    const rs = createObject(a, { at: t, res: 'apps/replicasets', ns, req, manager: kubectlManager('apply'), query: kubectlQuery('apply'), trigger: true, app: name });
    rs.x.pods = [];
    rsReconcile(a, rs.createdAt, rs);
    sim.cluster.busy(a.end, rs);
    return a;
  },
};

export const replicasetDelete: Scenario = {
  name: 'replicaset-delete', summary: 'kubectl delete replicaset (bare): pods garbage collected',
  trigger: 'delete apps/replicasets', weight: 0.5, fallback: 'replicaset-create',
  run(sim, user, t0) {
    const all = idle(sim, 'apps/replicasets', t0, (r) => !r.ownerUid);
    if (!all.length) return undefined;
    const rs = sim.rng.pick(all);
    const a = sim.action(user, t0, { verb: 'delete', res: 'apps/replicasets' });
    const e = deleteObject(a, { at: a.discovery(t0), obj: rs, trigger: true, propagation: 'Background' });
    garbageCollect(a, e, rs);
    return a;
  },
};

export const STATEFUL_SCENARIOS: Scenario[] = [statefulsetCreate, statefulsetDelete, pvcDelete, daemonsetCreate, daemonsetDelete, replicasetCreate, replicasetDelete];

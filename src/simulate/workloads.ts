/**
 * ReplicaSet and Deployment controllers: pods to match replicas, status updates with
 * realistic conflicts, rollouts to a new ReplicaSet, and garbage collection of dependents.
 */
import type { Obj } from './cluster.ts';
import type { Actor } from './identity.ts';
import { createPod, deletePodRequest, endpointsSync, kubeletStartPod, kubeletStopPod, recordEvent, schedulePod, setManaged, bump, quotaSync } from './kube.ts';
import { managed, snap, deleteOptions, statusSuccess, type Body } from './objects.ts';
import type { Act } from './sim.ts';
import { MS, rfc3339Sec } from './time.ts';

const rsCtl = (a: Act) => a.sys.ctrl['replicaset-controller'];
const depCtl = (a: Act) => a.sys.ctrl['deployment-controller'];

/** pods of a workload that exist and are not terminating at time t */
export function activePods(owner: Obj, t: number): Obj[] {
  const pods: Obj[] = owner.x.pods ?? [];
  return pods.filter((p) => p.createdAt <= t && !(p.x.deletingAt !== undefined && p.x.deletingAt <= t));
}
const isReady = (p: Obj, t: number) => p.x.readyAt !== undefined && p.x.readyAt <= t;

/** PUT <workload>/status after a change; sometimes first loses an optimistic-concurrency race (409). */
export function statusUpdate(a: Act, t: number, o: Obj, actor: Actor, apiVersion: string, status: Body, conflictP = 0.2): number {
  const rng = a.rng;
  o.body.status = status;
  if (rng.chance(conflictP)) {
    t = a.call({ actor, at: t, verb: 'update', res: o.res, ns: o.ns, name: o.name, sub: 'status', code: 409, req: snap(o.body) });
    t += Math.round(rng.around(6 * MS));
  }
  const latency = Math.round(rng.around(3.5 * MS));
  bump(a, o, t + latency);
  setManaged(o.body, { manager: 'kube-controller-manager', apiVersion, time: t, fields: { status }, subresource: 'status' });
  const end = a.call({ actor, at: t, verb: 'update', res: o.res, ns: o.ns, name: o.name, sub: 'status', req: snap(o.body), resp: snap(o.body), latency });
  a.cluster.busy(end, o);
  return end;
}

export function rsStatus(rs: Obj, t: number): Body {
  const pods = activePods(rs, t);
  const ready = pods.filter((p) => isReady(p, t)).length;
  return {
    replicas: pods.length, ...(pods.length ? { fullyLabeledReplicas: pods.length } : {}),
    ...(ready ? { readyReplicas: ready, availableReplicas: ready } : {}),
    observedGeneration: rs.body.metadata.generation ?? 1,
  };
}

export function rsStatusUpdate(a: Act, t: number, rs: Obj, conflictP = 0.2): number {
  if (rs.gone) return t;
  return statusUpdate(a, t, rs, rsCtl(a), 'apps/v1', rsStatus(rs, t), conflictP);
}

export function deploymentStatus(dep: Obj, t: number, reason?: string): Body {
  const rss: Obj[] = (dep.x.rs ?? []).filter((r: Obj) => !r.gone);
  const cur: Obj | undefined = dep.x.current;
  const all = rss.flatMap((r) => activePods(r, t));
  const updated = cur ? activePods(cur, t) : [];
  const ready = all.filter((p) => isReady(p, t)).length;
  const want = dep.body.spec.replicas ?? 1;
  const maxUnavailable = Math.floor(want * 0.25);
  const complete = updated.length === want && all.length === want && updated.every((p) => isReady(p, t));
  const ts = rfc3339Sec(t);
  const created = rfc3339Sec(dep.createdAt);
  const prev: Body[] = dep.body.status?.conditions ?? [];
  const prevAvail = prev.find((c) => c.type === 'Available');
  const availOk = ready >= want - maxUnavailable;
  const conditions = [
    {
      type: 'Available', status: availOk ? 'True' : 'False', lastUpdateTime: ts,
      lastTransitionTime: prevAvail && (prevAvail.status === 'True') === availOk ? prevAvail.lastTransitionTime : ts,
      reason: availOk ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
      message: availOk ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.',
    },
    {
      type: 'Progressing', status: 'True', lastUpdateTime: ts, lastTransitionTime: prev.find((c) => c.type === 'Progressing')?.lastTransitionTime ?? created,
      reason: reason ?? (complete ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated'),
      message: complete ? `ReplicaSet "${cur?.name}" has successfully progressed.` : reason === 'NewReplicaSetCreated' ? `Created new replica set "${cur?.name}"` : `ReplicaSet "${cur?.name}" is progressing.`,
    },
  ];
  return {
    observedGeneration: dep.body.metadata.generation,
    ...(all.length ? { replicas: all.length, updatedReplicas: updated.length } : {}),
    ...(ready ? { readyReplicas: ready, availableReplicas: ready } : {}),
    ...(want - ready > 0 && all.length ? { unavailableReplicas: want - ready } : {}),
    conditions,
  };
}

export function deploymentStatusUpdate(a: Act, t: number, dep: Obj, reason?: string, conflictP = 0.25): number {
  if (dep.gone) return t;
  return statusUpdate(a, t, dep, depCtl(a), 'apps/v1', deploymentStatus(dep, t, reason), conflictP);
}

export interface ScaleHooks { onChange?: (t: number) => number }

/**
 * The ReplicaSet controller makes the pod count match spec.replicas: creates pods (binding,
 * kubelet start, endpoints, status updates follow) or deletes the newest ones.
 */
export function rsReconcile(a: Act, t: number, rs: Obj, hooks: ScaleHooks = {}): number {
  const rng = a.rng;
  const want = rs.body.spec.replicas ?? 1;
  const have = activePods(rs, t);
  let end = t;
  const pods: Obj[] = rs.x.pods ?? (rs.x.pods = []);
  const ownerKind = rs.res === 'apps/replicasets' ? 'ReplicaSet' : rs.res === 'apps/statefulsets' ? 'StatefulSet' : 'ReplicationController';
  if (want > have.length) {
    let tc = t + Math.round(rng.around(1.5 * MS));
    const created: { pod: Obj; end: number }[] = [];
    for (let i = have.length; i < want; i++) {
      const r = createPod(a, tc, {
        actor: rsCtl(a), ns: rs.ns!, template: rs.body.spec.template, owner: { obj: rs, apiVersion: 'apps/v1', kind: ownerKind },
        generateName: `${rs.name}-`, manager: 'kube-controller-manager',
      });
      pods.push(r.pod);
      created.push(r);
      const te = recordEvent(a, r.end + Math.round(rng.around(1 * MS)), rsCtl(a), rs, ownerKind, 'apps/v1', 'SuccessfulCreate', `Created pod: ${r.pod.name}`, { component: 'replicaset-controller' });
      end = Math.max(end, te);
      tc = r.end + Math.round(rng.around(0.8 * MS));
    }
    end = Math.max(end, rsStatusUpdate(a, tc + Math.round(rng.around(2 * MS)), rs));
    if (hooks.onChange) end = Math.max(end, hooks.onChange(end));
    for (const { pod, end: pend } of created) {
      const bound = schedulePod(a, pend, pod);
      const r = kubeletStartPod(a, bound, pod, {
        onIp: (ti) => endpointsSync(a, ti + Math.round(rng.around(8 * MS)), pod.ns!, pod, 'notready'),
        onReady: (ti) => {
          let e = endpointsSync(a, ti + Math.round(rng.around(8 * MS)), pod.ns!, pod, 'ready');
          e = Math.max(e, rsStatusUpdate(a, ti + Math.round(rng.around(5 * MS)), rs));
          if (hooks.onChange) e = Math.max(e, hooks.onChange(e));
          return e;
        },
      }, rs.x.startOpts ?? {});
      end = Math.max(end, r.end);
      quotaSync(a, pend + Math.round(rng.around(60 * MS)), pod.ns!, {});
    }
  } else if (want < have.length) {
    // newest first, as the controller ranks pods for deletion
    const victims = [...have].sort((x, y) => y.createdAt - x.createdAt).slice(0, have.length - want);
    let td = t + Math.round(rng.around(1.5 * MS));
    for (const pod of victims) {
      pod.x.deletingAt = td;
      const e = deletePodRequest(a, td, pod, rsCtl(a));
      recordEvent(a, e + Math.round(rng.around(1 * MS)), rsCtl(a), rs, ownerKind, 'apps/v1', 'SuccessfulDelete', `Deleted pod: ${pod.name}`, { component: 'replicaset-controller' });
      end = Math.max(end, kubeletStopPod(a, e, pod));
      td = e + Math.round(rng.around(0.8 * MS));
    }
    end = Math.max(end, rsStatusUpdate(a, td + Math.round(rng.around(2 * MS)), rs));
    if (hooks.onChange) end = Math.max(end, hooks.onChange(end));
  }
  a.cluster.busy(end, rs);
  return end;
}

/** pod-template-hash: 10 characters of Kubernetes' safe alphabet */
export function templateHash(a: Act): string { return a.rng.suffix(10); }

/**
 * The Deployment controller creates a ReplicaSet for the deployment's current template and
 * scales it; `oldRs` (rollouts) is scaled down once the new pods are available.
 */
export function deploymentRollout(a: Act, t: number, dep: Obj): number {
  const rng = a.rng;
  const ctl = depCtl(a);
  const hash = templateHash(a);
  const name = `${dep.name}-${hash}`;
  const want = dep.body.spec.replicas ?? 1;
  const revision = (dep.x.revision ?? 0) + 1;
  dep.x.revision = revision;
  const template = snap(dep.body.spec.template);
  template.metadata.labels = { ...template.metadata.labels, 'pod-template-hash': hash };
  const annotations = { 'deployment.kubernetes.io/desired-replicas': String(want), 'deployment.kubernetes.io/max-replicas': String(want + Math.max(1, Math.ceil(want * 0.25))), 'deployment.kubernetes.io/revision': String(revision) };
  const labels = { ...template.metadata.labels };
  const owner = { apiVersion: 'apps/v1', kind: 'Deployment', name: dep.name, uid: dep.uid, controller: true, blockOwnerDeletion: true };
  const spec = { replicas: want, selector: { matchLabels: { ...dep.body.spec.selector.matchLabels, 'pod-template-hash': hash } }, template };
  const req = { kind: 'ReplicaSet', apiVersion: 'apps/v1', metadata: { name, namespace: dep.ns, creationTimestamp: null, labels, annotations, ownerReferences: [owner] }, spec, status: { replicas: 0 } };
  const tc = t + Math.round(rng.around(2 * MS));
  const latency = Math.round(rng.around(4 * MS));
  const uid = rng.uuid();
  const created = tc + latency;
  const body: Body = {
    ...snap(req), metadata: {
      name, namespace: dep.ns, uid, resourceVersion: a.cluster.rv(created), generation: 1, creationTimestamp: rfc3339Sec(created), labels, annotations, ownerReferences: [owner],
      managedFields: managed([{ manager: 'kube-controller-manager', apiVersion: 'apps/v1', time: created, fields: { metadata: { annotations, labels, ownerReferences: [owner] }, spec } }]),
    },
  };
  const end0 = a.call({ actor: ctl, at: tc, verb: 'create', res: 'apps/replicasets', ns: dep.ns, req, resp: snap(body), latency });
  const rs = a.cluster.add({ res: 'apps/replicasets', ns: dep.ns, name, uid, body, createdAt: end0, ownerUid: dep.uid, app: dep.app });
  rs.x.pods = [];
  if (dep.x.startOpts) rs.x.startOpts = dep.x.startOpts;
  rs.x.revision = revision;
  const old: Obj[] = (dep.x.rs ?? []).filter((r: Obj) => !r.gone);
  dep.x.rs = [...old, rs];
  dep.x.current = rs;
  dep.body.metadata.annotations = { ...(dep.body.metadata.annotations ?? {}), 'deployment.kubernetes.io/revision': String(revision) };
  let end = recordEvent(a, end0 + Math.round(rng.around(1 * MS)), ctl, dep, 'Deployment', 'apps/v1', 'ScalingReplicaSet', `Scaled up replica set ${name} to ${want}`, { component: 'deployment-controller' });
  end = Math.max(end, deploymentStatusUpdate(a, end + Math.round(rng.around(2 * MS)), dep, 'NewReplicaSetCreated'));
  let oldScaled = false;
  end = Math.max(end, rsReconcile(a, end0, rs, {
    onChange: (ti) => {
      let e = deploymentStatusUpdate(a, ti + Math.round(rng.around(3 * MS)), dep);
      if (!oldScaled && old.length && activePods(rs, ti).filter((p) => isReady(p, ti)).length >= want) {
        oldScaled = true;
        for (const o of old) e = Math.max(e, scaleReplicaSet(a, e + Math.round(rng.around(2 * MS)), dep, o, 0));
      }
      return e;
    },
  }));
  a.cluster.busy(end, dep, rs);
  return end;
}

/** The Deployment controller sets a ReplicaSet's replicas (scale or rollout) and the RS controller follows. */
export function scaleReplicaSet(a: Act, t: number, dep: Obj, rs: Obj, replicas: number): number {
  const rng = a.rng;
  const ctl = depCtl(a);
  const from = rs.body.spec.replicas;
  rs.body.spec.replicas = replicas;
  rs.body.metadata.generation = (rs.body.metadata.generation ?? 1) + 1;
  rs.body.metadata.annotations = { ...rs.body.metadata.annotations, 'deployment.kubernetes.io/desired-replicas': String(dep.body.spec.replicas) };
  const latency = Math.round(rng.around(3.5 * MS));
  bump(a, rs, t + latency);
  setManaged(rs.body, { manager: 'kube-controller-manager', apiVersion: 'apps/v1', time: t, fields: { metadata: { annotations: rs.body.metadata.annotations, labels: rs.body.metadata.labels, ownerReferences: rs.body.metadata.ownerReferences }, spec: rs.body.spec } });
  const tu = a.call({ actor: ctl, at: t, verb: 'update', res: 'apps/replicasets', ns: rs.ns, name: rs.name, req: snap(rs.body), resp: snap(rs.body), latency });
  let end = recordEvent(a, tu + Math.round(rng.around(1 * MS)), ctl, dep, 'Deployment', 'apps/v1', 'ScalingReplicaSet', `Scaled ${replicas > from ? 'up' : 'down'} replica set ${rs.name} to ${replicas} from ${from}`, { component: 'deployment-controller' });
  end = Math.max(end, rsReconcile(a, tu, rs, { onChange: (ti) => deploymentStatusUpdate(a, ti + Math.round(rng.around(3 * MS)), dep) }));
  return end;
}

/**
 * Background-propagation garbage collection of an owner's dependents: the collector checks the
 * owner is gone (GET → 404), deletes each dependent, and recurses into theirs.
 */
export function garbageCollect(a: Act, t: number, owner: Obj): number {
  const rng = a.rng;
  const gc = a.sys.ctrl['generic-garbage-collector'];
  let end = t;
  const deps: Obj[] = [...a.cluster.children(owner.uid)].filter((d) => !d.gone && !d.x.deletingAt);
  let tg = t + Math.round(rng.around(25 * MS, 0.6));
  for (const d of deps) {
    tg = a.call({ actor: gc, at: tg, verb: 'get', res: owner.res, ns: owner.ns, name: owner.name, code: 404 });
    tg += Math.round(rng.around(1.5 * MS));
    if (d.res === 'pods') {
      d.x.deletingAt = tg;
      const e = deletePodRequest(a, tg, d, gc, { propagation: 'Background' });
      end = Math.max(end, kubeletStopPod(a, e, d));
      tg = e;
    } else {
      const latency = Math.round(rng.around(4 * MS));
      const e = a.call({ actor: gc, at: tg, verb: 'delete', res: d.res, ns: d.ns, name: d.name, req: deleteOptions({ propagationPolicy: 'Background', preconditions: { uid: d.uid } }), resp: statusSuccess(d.body.apiVersion?.includes('/') ? d.body.apiVersion.split('/')[0] : '', d.res.split('/').pop()!, d.name, d.uid), latency });
      d.x.deletingAt = tg;
      a.cluster.remove(d);
      end = Math.max(end, garbageCollect(a, e, d));
      if (d.res === 'apps/replicasets' || d.res === 'apps/statefulsets' || d.res === 'batch/jobs') end = Math.max(end, quotaSync(a, e + Math.round(rng.around(50 * MS)), d.ns!, {}));
      tg = e;
    }
    tg += Math.round(rng.around(1 * MS));
    end = Math.max(end, tg);
  }
  return end;
}

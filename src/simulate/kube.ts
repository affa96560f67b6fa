/**
 * Control-plane behaviour shared by scenarios: what the scheduler, kubelets, the
 * ReplicaSet/Deployment controllers, the endpoint controllers, the quota machinery and the
 * event recorders do after an object changes, with the delays a real cluster shows.
 */
import type { Obj, SimNode } from './cluster.ts';
import type { Actor } from './identity.ts';
import { coreEvent, eventsV1, involved, managed, podSpecFrom, qosClass, snap, condition, deleteOptions, statusSuccess, type Body, type ManagedEntry, type OwnerRef } from './objects.ts';
import type { Act } from './sim.ts';
import { MS, SEC, rfc3339Sec } from './time.ts';

// ---------------------------------------------------------------- helpers

export function bump(a: Act, o: Obj, t: number): void {
  o.body.metadata.resourceVersion = a.cluster.rv(t);
}

/** replaces (or adds) the managedFields entry of one manager/subresource */
export function setManaged(body: Body, e: ManagedEntry): void {
  const [entry] = managed([e]);
  const list: Body[] = body.metadata.managedFields ?? (body.metadata.managedFields = []);
  const i = list.findIndex((m) => m.manager === e.manager && (m.subresource ?? '') === (e.subresource ?? '') && m.operation === (e.operation ?? 'Update'));
  if (i >= 0) list[i] = entry!; else list.push(entry!);
}

export function eventName(objName: string, t: number): string {
  return `${objName}.${(BigInt(Math.floor(t)) * 1000n).toString(16)}`;
}

export interface EventOpts { type?: 'Normal' | 'Warning'; component: string; host?: string; fieldPath?: string; manager?: string }

/** A controller or kubelet records a core/v1 Event about `o`. Returns the completion time. */
export function recordEvent(a: Act, t: number, actor: Actor, o: { body: Body; res?: string }, kind: string, apiVersion: string, reason: string, message: string, opts: EventOpts): number {
  const ns = o.body.metadata.namespace ?? 'default';
  const [req, resp] = coreEvent({
    ns, name: eventName(o.body.metadata.name, t), uid: a.rng.uuid(), rv: a.cluster.rv(t), at: t,
    involved: involved(kind, apiVersion, o.body, opts.fieldPath), reason, message, type: opts.type, component: opts.component,
    host: opts.host, manager: opts.manager ?? (actor.kind === 'node' ? 'kubelet' : 'kube-controller-manager'),
  });
  return a.call({ actor, at: t, verb: 'create', res: 'events', ns, req, resp, latency: a.rng.around(2.2 * MS) });
}

// ---------------------------------------------------------------- quota

/** When a namespace has a ResourceQuota, quota admission charges pods/objects in the apiserver. */
export function quotaAdmission(a: Act, t: number, ns: string, delta: Record<string, number>): number {
  const q = a.cluster.list('resourcequotas', ns)[0];
  if (!q) return t;
  applyQuotaUsed(q, delta);
  bump(a, q, t);
  const req = snap(q.body);
  return a.call({ actor: a.sys.apiserver, at: t, verb: 'update', res: 'resourcequotas', ns, name: q.name, sub: 'status', req, resp: snap(q.body), latency: a.rng.around(2.5 * MS) });
}

/** The resource-quota controller recalculates usage after a change in the namespace. */
export function quotaSync(a: Act, t: number, ns: string, delta: Record<string, number>): number {
  const q = a.cluster.list('resourcequotas', ns)[0];
  if (!q || a.cluster.get('namespaces', undefined, ns)?.x.terminating) return t;
  applyQuotaUsed(q, delta);
  bump(a, q, t);
  setManaged(q.body, { manager: 'kube-controller-manager', apiVersion: 'v1', time: t, fields: { status: { hard: q.body.status.hard, used: q.body.status.used } }, subresource: 'status' });
  return a.call({ actor: a.sys.ctrl['resourcequota-controller'], at: t, verb: 'update', res: 'resourcequotas', ns, name: q.name, sub: 'status', req: snap(q.body), resp: snap(q.body) });
}

function applyQuotaUsed(q: Obj, delta: Record<string, number>): void {
  const used = q.body.status.used ?? (q.body.status.used = {});
  for (const [k, d] of Object.entries(delta)) {
    if (!(k in (q.body.spec.hard ?? {}))) continue;
    const cur = Number(String(used[k] ?? '0').replace(/[^0-9.]/g, '')) || 0;
    used[k] = String(Math.max(0, cur + d));
  }
}

// ---------------------------------------------------------------- pods

export interface PodIn {
  actor: Actor;
  ns: string;
  template: Body;
  owner?: { obj: Obj; apiVersion: string; kind: string };
  name?: string;
  generateName?: string;
  manager: string;
  query?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  trigger?: boolean;
}

/** POST a pod; returns the stored pod object (state updated) and when the create completed. */
export function createPod(a: Act, t: number, p: PodIn): { pod: Obj; end: number } {
  const rng = a.rng;
  const name = p.name ?? `${p.generateName}${rng.suffix(5)}`;
  const labels = { ...(p.template.metadata?.labels ?? {}), ...(p.labels ?? {}) };
  const owners: OwnerRef[] = p.owner ? [{ apiVersion: p.owner.apiVersion, kind: p.owner.kind, name: p.owner.obj.name, uid: p.owner.obj.uid, controller: true, blockOwnerDeletion: true }] : [];
  const reqMeta: Body = {
    ...(p.name ? { name } : { generateName: p.generateName }), creationTimestamp: null, labels,
    ...(p.annotations ? { annotations: p.annotations } : {}),
    ...(owners.length ? { ownerReferences: owners } : {}),
    ...(p.finalizers ? { finalizers: p.finalizers } : {}),
  };
  const req: Body = { kind: 'Pod', apiVersion: 'v1', metadata: reqMeta, spec: snap(p.template.spec), status: {} };
  // quota admission charges the pod before it is stored
  const tq = quotaAdmission(a, t + Math.round(rng.around(1.2 * MS)), p.ns, { pods: 1, 'count/pods': 1 });
  const spec = podSpecFrom(p.template, `kube-api-access-${rng.suffix(5)}`);
  const uid = rng.uuid();
  const latency = Math.max(tq - t, 0) + Math.round(rng.around(3 * MS));
  const created = t + latency;
  const body: Body = {
    kind: 'Pod', apiVersion: 'v1',
    metadata: {
      name, ...(p.name ? {} : { generateName: p.generateName }), namespace: p.ns, uid, resourceVersion: a.cluster.rv(created),
      creationTimestamp: rfc3339Sec(created), labels, ...(p.annotations ? { annotations: p.annotations } : {}),
      ...(owners.length ? { ownerReferences: owners } : {}),
      ...(p.finalizers ? { finalizers: p.finalizers } : {}),
      managedFields: managed([{ manager: p.manager, apiVersion: 'v1', time: created, fields: { metadata: { ...(p.name ? {} : { generateName: 1 }), labels, ...(p.annotations ? { annotations: p.annotations } : {}), ...(owners.length ? { ownerReferences: owners } : {}), ...(p.finalizers ? { finalizers: p.finalizers } : {}) }, spec: p.template.spec } }]),
    },
    spec, status: { phase: 'Pending', qosClass: qosClass(spec) },
  };
  const end = a.call({
    actor: p.actor, at: t, verb: 'create', res: 'pods', ns: p.ns, query: p.query, req, resp: snap(body), latency, trigger: p.trigger,
    annotations: { 'pod-security.kubernetes.io/enforce-policy': 'privileged:latest' },
  });
  const pod = a.cluster.add({ res: 'pods', ns: p.ns, name, uid, body, createdAt: end, ownerUid: p.owner?.obj.uid, app: labels.app ?? labels['app.kubernetes.io/name'] });
  pod.x.containers = spec.containers.map((c: Body) => c.name);
  a.cluster.busy(end, pod);
  return { pod, end };
}

/** Picks a node for a pod: the least loaded, ties broken at random. */
export function pickNode(a: Act, pod: Obj): SimNode {
  const nodes = a.cluster.nodes.filter((n) => !pod.body.spec.nodeSelector?.['kubernetes.io/hostname'] || n.name === pod.body.spec.nodeSelector['kubernetes.io/hostname']);
  const load = (n: SimNode) => n.pods + a.rng.next() * 2;
  return nodes.map((n) => [n, load(n)] as const).sort((x, y) => x[1] - y[1])[0]![0];
}

/** The scheduler binds a pending pod and records a Scheduled event. Returns the binding time. */
export function schedulePod(a: Act, t: number, pod: Obj, node?: SimNode): number {
  const rng = a.rng;
  const n = node ?? pickNode(a, pod);
  const sched = a.sys.scheduler;
  const tb = t + Math.round(rng.around(3 * MS, 0.5));
  const req = { kind: 'Binding', apiVersion: 'v1', metadata: { name: pod.name, namespace: pod.ns, uid: pod.uid, creationTimestamp: null }, target: { kind: 'Node', name: n.name } };
  const resp = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
  const bound = a.call({ actor: sched, at: tb, verb: 'create', res: 'pods', ns: pod.ns, name: pod.name, sub: 'binding', req, resp, latency: rng.around(3.5 * MS) });
  a.cluster.bind(pod, n);
  pod.body.spec.nodeName = n.name;
  pod.body.status.conditions = [condition('PodScheduled', 'True', bound)];
  bump(a, pod, bound);
  const te = bound + Math.round(rng.around(1.5 * MS));
  const [ereq, eresp] = eventsV1({
    ns: pod.ns!, name: eventName(pod.name, te), uid: rng.uuid(), rv: a.cluster.rv(te), at: te,
    involved: involved('Pod', 'v1', pod.body), reason: 'Scheduled', message: `Successfully assigned ${pod.ns}/${pod.name} to ${n.name}`,
    component: 'default-scheduler', manager: 'kube-scheduler', action: 'Binding', instance: 'default-scheduler-control-plane',
  });
  a.call({ actor: sched, at: te, verb: 'create', res: 'events.k8s.io/events', ns: pod.ns, req: ereq, resp: eresp, latency: rng.around(2.5 * MS) });
  a.cluster.busy(te, pod);
  return bound;
}

function podStatusPatch(a: Act, t: number, pod: Obj, node: SimNode, statusChange: Body): number {
  const rng = a.rng;
  // the status manager GETs the pod, then PATCHes the difference
  const tg = a.call({ actor: node.kubelet, at: t, verb: 'get', res: 'pods', ns: pod.ns, name: pod.name, latency: rng.around(1.3 * MS) });
  const tp = tg + Math.round(rng.around(1 * MS));
  const patch: Body = { metadata: { uid: pod.uid }, status: { ...(statusChange.conditions ? { '$setElementOrder/conditions': statusChange.conditions.map((c: Body) => ({ type: c.type })) } : {}), ...statusChange } };
  Object.assign(pod.body.status, statusChange);
  setManaged(pod.body, { manager: 'kubelet', apiVersion: 'v1', time: tp, fields: { status: pod.body.status }, subresource: 'status' });
  const latency = Math.round(rng.around(3 * MS));
  bump(a, pod, tp + latency);
  return a.call({ actor: node.kubelet, at: tp, verb: 'patch', res: 'pods', ns: pod.ns, name: pod.name, sub: 'status', req: patch, resp: snap(pod.body), latency });
}

function containerStatus(pod: Obj, c: Body, state: Body, ready: boolean, _node: SimNode, rngHex: () => string): Body {
  const img = c.image.includes('/') ? c.image : `docker.io/library/${c.image}`;
  return {
    name: c.name, state, lastState: {}, ready, restartCount: 0, image: img,
    imageID: state.running || state.terminated ? `${img.split(':')[0]}@sha256:${rngHex()}` : '',
    ...(state.running || state.terminated ? { containerID: `containerd://${pod.x.cid?.[c.name] ?? rngHex()}` } : {}),
    started: !!state.running,
  };
}

export interface PodStartResult { ipAt: number; readyAt: number; end: number }

/**
 * The kubelet on the pod's node starts it: token for the projected volume, kube-root-ca.crt,
 * sandbox + IP (status patch), image pull events, container start, ready (status patch).
 * `onIp` / `onReady` let owners and endpoint controllers react.
 */
export interface StartHooks { onIp?: (t: number) => number; onReady?: (t: number) => number; onDone?: (t: number, ok: boolean) => number }
export interface StartOpts { badImage?: boolean; runFor?: number; fail?: boolean }

export function kubeletStartPod(a: Act, tBound: number, pod: Obj, hooks: StartHooks = {}, opts: StartOpts = {}): PodStartResult {
  const rng = a.rng;
  const node = a.cluster.node(pod.node!);
  const kb = node.kubelet;
  const spec = pod.body.spec;
  const sa = spec.serviceAccountName ?? 'default';
  let t = tBound + Math.round(rng.around(1.4 * SEC, 0.5, 300 * MS, 4 * SEC));
  // projected service account token
  const exp = Math.floor(t / 1e6) + 3607;
  const treq = { kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1', metadata: { name: sa, namespace: pod.ns, creationTimestamp: null }, spec: { audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: 3607, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.name, uid: pod.uid } }, status: { token: '', expirationTimestamp: null } };
  const tresp = { ...snap(treq), status: { token: '', expirationTimestamp: rfc3339Sec(exp * 1e6) } };
  t = a.call({ actor: kb, at: t, verb: 'create', res: 'serviceaccounts', ns: pod.ns, name: sa, sub: 'token', req: treq, resp: tresp });
  // the kubelet starts a reflector for the CA bundle configmap the projected volume needs
  t = a.call({ actor: kb, at: t + Math.round(rng.around(4 * MS)), verb: 'list', res: 'configmaps', ns: pod.ns, query: 'fieldSelector=metadata.name%3Dkube-root-ca.crt&limit=500&resourceVersion=0' });
  // ... and one for every secret / configmap the pod mounts or reads env from
  for (const v of (spec.volumes ?? []) as Body[]) {
    const ref = v.secret ? ['secrets', v.secret.secretName] : v.configMap ? ['configmaps', v.configMap.name] : undefined;
    if (!ref) continue;
    t = a.call({ actor: kb, at: t + Math.round(rng.around(3 * MS)), verb: 'list', res: ref[0]!, ns: pod.ns, query: `fieldSelector=metadata.name%3D${ref[1]}&limit=500&resourceVersion=0` });
  }
  for (const v of (spec.volumes ?? []) as Body[]) {
    if (!v.persistentVolumeClaim) continue;
    // volume manager waits for the attach/mount of the claim's volume
    t = a.call({ actor: kb, at: t + Math.round(rng.around(5 * MS)), verb: 'get', res: 'persistentvolumeclaims', ns: pod.ns, name: v.persistentVolumeClaim.claimName });
    const pvc = a.cluster.get('persistentvolumeclaims', pod.ns, v.persistentVolumeClaim.claimName);
    if (pvc?.body.spec.volumeName) t = a.call({ actor: kb, at: t + Math.round(rng.around(2 * MS)), verb: 'get', res: 'persistentvolumes', name: pvc.body.spec.volumeName });
  }
  // sandbox created, IP assigned
  const tIp = t + Math.round(rng.around(1.2 * SEC, 0.4, 300 * MS, 5 * SEC));
  const ip = `${node.podCidr.split('.').slice(0, 3).join('.')}.${(node.nextPodIp++ % 250) + 2}`;
  pod.x.ip = ip;
  pod.x.ipAt = tIp;
  pod.x.cid = Object.fromEntries(spec.containers.map((c: Body) => [c.name, rng.hex(64)]));
  const conds = (ready: boolean, at: number, init = at) => [
    condition('PodReadyToStartContainers', 'True', init, undefined, undefined),
    condition('Initialized', 'True', init),
    condition('Ready', ready ? 'True' : 'False', at, ready ? undefined : 'ContainersNotReady', ready ? undefined : `containers with unready status: [${spec.containers.map((c: Body) => c.name).join(' ')}]`),
    condition('ContainersReady', ready ? 'True' : 'False', at, ready ? undefined : 'ContainersNotReady', ready ? undefined : `containers with unready status: [${spec.containers.map((c: Body) => c.name).join(' ')}]`),
    condition('PodScheduled', 'True', tBound),
  ];
  let end = podStatusPatch(a, tIp, pod, node, {
    conditions: conds(false, tIp), hostIP: node.ip, hostIPs: [{ ip: node.ip }], podIP: ip, podIPs: [{ ip }], startTime: rfc3339Sec(tIp),
    containerStatuses: spec.containers.map((c: Body) => containerStatus(pod, c, { waiting: { reason: 'ContainerCreating' } }, false, node, () => rng.hex(64))),
  });
  if (hooks.onIp) end = Math.max(end, hooks.onIp(end));
  // images
  let te = end + Math.round(rng.around(30 * MS));
  if (opts.badImage) {
    const c = spec.containers[0] as Body;
    const fp = `spec.containers{${c.name}}`;
    const ev = (tt: number, reason: string, msg: string, type: 'Normal' | 'Warning' = 'Warning') => recordEvent(a, tt, kb, pod, 'Pod', 'v1', reason, msg, { component: 'kubelet', host: node.name, fieldPath: fp, type });
    te = ev(te, 'Pulling', `Pulling image "${c.image}"`, 'Normal');
    te += Math.round(rng.around(1.2 * SEC));
    const why = `failed to pull and unpack image "docker.io/library/${c.image}": failed to resolve reference "docker.io/library/${c.image}": docker.io/library/${c.image}: not found`;
    te = ev(te, 'Failed', `Failed to pull image "${c.image}": ${why}`);
    te = ev(te + Math.round(rng.around(2 * MS)), 'Failed', 'Error: ErrImagePull');
    end = podStatusPatch(a, te + Math.round(rng.around(20 * MS)), pod, node, {
      containerStatuses: spec.containers.map((x: Body) => containerStatus(pod, x, { waiting: { reason: 'ErrImagePull', message: why } }, false, node, () => rng.hex(64))),
    });
    te = ev(end + Math.round(rng.around(900 * MS)), 'BackOff', `Back-off pulling image "${c.image}"`, 'Normal');
    te = ev(te + Math.round(rng.around(2 * MS)), 'Failed', 'Error: ImagePullBackOff');
    end = podStatusPatch(a, te + Math.round(rng.around(20 * MS)), pod, node, {
      containerStatuses: spec.containers.map((x: Body) => containerStatus(pod, x, { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"` } }, false, node, () => rng.hex(64))),
    });
    pod.x.failing = true;
    a.cluster.busy(end, pod);
    return { ipAt: tIp, readyAt: Infinity, end };
  }
  for (const c of spec.containers as Body[]) {
    const fp = `spec.containers{${c.name}}`;
    // image garbage collection and fresh tags make most starts pull (kubelet follow-ups land 10-20 s later)
    const cached = node.images.has(c.image) && rng.chance(0.4);
    if (!cached || c.imagePullPolicy === 'Always') {
      te = recordEvent(a, te, kb, pod, 'Pod', 'v1', 'Pulling', `Pulling image "${c.image}"`, { component: 'kubelet', host: node.name, fieldPath: fp });
      const pull = cached ? rng.around(900 * MS, 0.4, 300 * MS, 3 * SEC) : rng.around(10 * SEC, 0.35, 2.5 * SEC, 30 * SEC);
      te += Math.round(pull);
      const size = rng.int(20_000_000, 300_000_000);
      te = recordEvent(a, te, kb, pod, 'Pod', 'v1', 'Pulled', `Successfully pulled image "${c.image}" in ${(pull / 1e6).toFixed(3)}s (${(pull / 1e6).toFixed(3)}s including waiting). Image size: ${size} bytes.`, { component: 'kubelet', host: node.name, fieldPath: fp });
      node.images.add(c.image);
    } else {
      te = recordEvent(a, te, kb, pod, 'Pod', 'v1', 'Pulled', `Container image "${c.image}" already present on machine`, { component: 'kubelet', host: node.name, fieldPath: fp });
    }
    te = recordEvent(a, te + Math.round(rng.around(120 * MS)), kb, pod, 'Pod', 'v1', 'Created', `Created container ${c.name}`, { component: 'kubelet', host: node.name, fieldPath: fp });
    te = recordEvent(a, te + Math.round(rng.around(250 * MS)), kb, pod, 'Pod', 'v1', 'Started', `Started container ${c.name}`, { component: 'kubelet', host: node.name, fieldPath: fp });
  }
  const probeDelay = spec.containers.some((c: Body) => c.readinessProbe) ? rng.around(3 * SEC) : rng.around(700 * MS);
  const tReady = te + Math.round(probeDelay);
  end = podStatusPatch(a, tReady, pod, node, {
    conditions: conds(true, tReady, tIp),
    containerStatuses: spec.containers.map((c: Body) => containerStatus(pod, c, { running: { startedAt: rfc3339Sec(te) } }, true, node, () => rng.hex(64))),
    phase: 'Running',
  });
  pod.x.ready = true;
  pod.x.readyAt = end;
  if (hooks.onReady) end = Math.max(end, hooks.onReady(end));
  if (opts.runFor !== undefined) {
    // a run-to-completion pod (Job): containers exit, final status
    const tDone = tReady + Math.round(opts.runFor);
    const ok = !opts.fail;
    end = Math.max(end, podStatusPatch(a, tDone, pod, node, {
      conditions: conds(false, tDone, tIp).map((c) => (c.type === 'Ready' || c.type === 'ContainersReady') ? { ...c, reason: 'PodCompleted' } : c.type === 'PodReadyToStartContainers' ? { ...c, status: 'False' } : c),
      containerStatuses: spec.containers.map((c: Body) => containerStatus(pod, c, { terminated: { exitCode: ok ? 0 : 1, reason: ok ? 'Completed' : 'Error', startedAt: rfc3339Sec(te), finishedAt: rfc3339Sec(tDone) } }, false, node, () => rng.hex(64))),
      phase: ok ? 'Succeeded' : 'Failed',
    }));
    pod.x.ready = false;
    pod.x.doneAt = end;
    pod.x.succeeded = ok;
    if (hooks.onDone) end = Math.max(end, hooks.onDone(end, ok));
  }
  a.cluster.busy(end, pod);
  return { ipAt: tIp, readyAt: tReady, end };
}

/**
 * Graceful pod termination after a delete request was accepted at `tDel`: endpoints drop the
 * pod, the kubelet kills containers, patches the final status and removes the pod object.
 */
export function kubeletStopPod(a: Act, tDel: number, pod: Obj, hooks: { onGone?: (t: number) => number } = {}): number {
  const rng = a.rng;
  let end = tDel;
  end = Math.max(end, endpointsSync(a, tDel + Math.round(rng.around(15 * MS)), pod.ns!, pod, 'remove'));
  if (!pod.node) {
    // never scheduled: the apiserver removes it right away
    a.cluster.remove(pod);
    return end;
  }
  const node = a.cluster.node(pod.node);
  const kb = node.kubelet;
  if (pod.x.doneAt !== undefined) {
    // containers already exited: the kubelet just removes the object
    const tf = tDel + Math.round(rng.around(80 * MS, 0.5));
    bump(a, pod, tf);
    end = a.call({ actor: kb, at: tf, verb: 'delete', res: 'pods', ns: pod.ns, name: pod.name, req: deleteOptions({ gracePeriodSeconds: 0, preconditions: { uid: pod.uid } }), resp: snap(pod.body) });
    a.cluster.remove(pod);
    return end;
  }
  let t = tDel + Math.round(rng.around(60 * MS, 0.5));
  for (const c of pod.body.spec.containers as Body[]) {
    t = recordEvent(a, t, kb, pod, 'Pod', 'v1', 'Killing', `Stopping container ${c.name}`, { component: 'kubelet', host: node.name, fieldPath: `spec.containers{${c.name}}` });
  }
  const stopTook = rng.chance(0.15) ? (pod.body.spec.terminationGracePeriodSeconds ?? 30) * SEC : rng.around(900 * MS, 0.6, 100 * MS, 8 * SEC);
  const tStop = t + Math.round(stopTook);
  const ready = false;
  end = podStatusPatch(a, tStop, pod, node, {
    conditions: (pod.body.status.conditions ?? []).map((c: Body) => (c.type === 'Ready' || c.type === 'ContainersReady' || c.type === 'PodReadyToStartContainers') ? condition(c.type, 'False', tStop, c.type === 'PodReadyToStartContainers' ? undefined : 'PodCompleted', undefined) : c),
    containerStatuses: (pod.body.spec.containers as Body[]).map((c) => containerStatus(pod, c, { terminated: { exitCode: 0, reason: 'Completed', startedAt: rfc3339Sec(pod.x.readyAt ?? tDel), finishedAt: rfc3339Sec(tStop) } }, ready, node, () => rng.hex(64))),
    phase: pod.body.spec.restartPolicy === 'Never' || pod.body.spec.restartPolicy === 'OnFailure' ? pod.body.status.phase : 'Succeeded',
  });
  const tFinal = end + Math.round(rng.around(25 * MS));
  bump(a, pod, tFinal);
  end = a.call({
    actor: kb, at: tFinal, verb: 'delete', res: 'pods', ns: pod.ns, name: pod.name,
    req: deleteOptions({ gracePeriodSeconds: 0, preconditions: { uid: pod.uid } }), resp: snap(pod.body),
  });
  a.cluster.remove(pod);
  end = Math.max(end, quotaSync(a, end + Math.round(rng.around(40 * MS)), pod.ns!, { pods: -1, 'count/pods': -1 }));
  if (hooks.onGone) end = Math.max(end, hooks.onGone(end));
  return end;
}

/** A delete request for a pod (user, GC, ReplicaSet controller): marks it terminating. */
export function deletePodRequest(a: Act, t: number, pod: Obj, actor: Actor, opts: { trigger?: boolean; propagation?: string; grace?: number } = {}): number {
  const grace = opts.grace ?? pod.body.spec.terminationGracePeriodSeconds ?? 30;
  const latency = Math.round(a.rng.around(4 * MS));
  pod.body.metadata.deletionTimestamp = rfc3339Sec(t + grace * SEC);
  pod.body.metadata.deletionGracePeriodSeconds = grace;
  bump(a, pod, t + latency);
  const body = opts.propagation ? deleteOptions({ propagationPolicy: opts.propagation }) : deleteOptions(actor.kind === 'controller' ? { preconditions: { uid: pod.uid } } : {});
  return a.call({ actor, at: t, verb: 'delete', res: 'pods', ns: pod.ns, name: pod.name, req: body, resp: snap(pod.body), latency, trigger: opts.trigger });
}

// ---------------------------------------------------------------- endpoints

/** Services in `ns` whose selector matches the pod's labels. */
export function servicesFor(a: Act, ns: string, pod: Obj): Obj[] {
  const labels = pod.body.metadata.labels ?? {};
  return a.cluster.list('services', ns, (s) => {
    const sel = s.body.spec.selector;
    return !!sel && Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels[k] === v);
  });
}

/**
 * Endpoint controllers react to a pod change: the EndpointSlice controller updates the
 * service's slice (sometimes losing a race: 409, then retries), the Endpoints controller the
 * legacy Endpoints object.
 */
export function endpointsSync(a: Act, t: number, ns: string, pod: Obj, change: 'notready' | 'ready' | 'remove'): number {
  let end = t;
  if (a.cluster.get('namespaces', undefined, ns)?.x.terminating) return end; // the namespace controller removes them
  for (const svc of servicesFor(a, ns, pod)) {
    const rng = a.rng;
    const slice: Obj | undefined = svc.x.slice;
    const ep: Obj | undefined = svc.x.endpoints;
    const members: Map<string, { pod: Obj; ready: boolean }> = svc.x.members ?? (svc.x.members = new Map());
    if (change === 'remove') members.delete(pod.uid); else members.set(pod.uid, { pod, ready: change === 'ready' });
    let ts = t + Math.round(rng.around(6 * MS));
    if (slice && !slice.gone) {
      slice.body.endpoints = [...members.values()].map(({ pod: p, ready }) => ({
        addresses: [p.x.ip ?? '10.244.0.1'], conditions: { ready, serving: ready, terminating: false },
        targetRef: { kind: 'Pod', namespace: ns, name: p.name, uid: p.uid }, nodeName: p.node, zone: 'zone-a',
      }));
      if (!slice.body.endpoints.length) delete slice.body.endpoints;
      if (rng.chance(0.25)) {
        ts = a.call({ actor: a.sys.ctrl['endpointslice-controller'], at: ts, verb: 'update', res: 'discovery.k8s.io/endpointslices', ns, name: slice.name, code: 409, req: snap(slice.body) });
        ts += Math.round(rng.around(8 * MS));
      }
      bump(a, slice, ts);
      setManaged(slice.body, { manager: 'kube-controller-manager', apiVersion: 'discovery.k8s.io/v1', time: ts, fields: { addressType: 1, endpoints: slice.body.endpoints ?? [], ports: slice.body.ports } });
      end = Math.max(end, a.call({ actor: a.sys.ctrl['endpointslice-controller'], at: ts, verb: 'update', res: 'discovery.k8s.io/endpointslices', ns, name: slice.name, req: snap(slice.body), resp: snap(slice.body) }));
      a.cluster.busy(end, slice);
    }
    if (ep && !ep.gone) {
      const te = t + Math.round(rng.around(9 * MS));
      const ready = [...members.values()].filter((m) => m.ready);
      const notReady = [...members.values()].filter((m) => !m.ready);
      const addr = (m: { pod: Obj }) => ({ ip: m.pod.x.ip ?? '10.244.0.1', nodeName: m.pod.node, targetRef: { kind: 'Pod', namespace: ns, name: m.pod.name, uid: m.pod.uid } });
      const subset: Body = { ...(ready.length ? { addresses: ready.map(addr) } : {}), ...(notReady.length ? { notReadyAddresses: notReady.map(addr) } : {}), ports: (svc.body.spec.ports ?? []).map((p: Body) => ({ name: p.name, port: typeof p.targetPort === 'number' ? p.targetPort : p.port, protocol: p.protocol ?? 'TCP' })) };
      ep.body.subsets = members.size ? [subset] : undefined;
      if (!ep.body.subsets) delete ep.body.subsets;
      ep.body.metadata.annotations = { 'endpoints.kubernetes.io/last-change-trigger-time': rfc3339Sec(t) };
      bump(a, ep, te);
      setManaged(ep.body, { manager: 'kube-controller-manager', apiVersion: 'v1', time: te, fields: { metadata: { annotations: ep.body.metadata.annotations, labels: ep.body.metadata.labels }, subsets: ep.body.subsets ?? [] } });
      end = Math.max(end, a.call({ actor: a.sys.ctrl['endpoint-controller'], at: te, verb: 'update', res: 'endpoints', ns, name: ep.name, req: snap(ep.body), resp: snap(ep.body) }));
      a.cluster.busy(end, ep);
    }
  }
  return end;
}

// ---------------------------------------------------------------- generic object requests

const WITH_GENERATION = new Set(['apps/deployments', 'apps/replicasets', 'apps/statefulsets', 'apps/daemonsets', 'batch/jobs', 'batch/cronjobs', 'networking.k8s.io/ingresses', 'networking.k8s.io/networkpolicies', 'policy/poddisruptionbudgets', 'apiextensions.k8s.io/customresourcedefinitions', 'discovery.k8s.io/endpointslices', 'autoscaling/horizontalpodautoscalers']);

export interface CreateIn {
  actor?: Actor;
  at: number;
  res: string;
  ns?: string;
  /** the request body as the client sends it (metadata.name or metadata.generateName) */
  req: Body;
  manager: string;
  query?: string;
  trigger?: boolean;
  /** status the apiserver stores (defaults to the request's) */
  status?: Body;
  /** apiserver defaulting applied to the stored object */
  defaults?: (body: Body) => void;
  owner?: Obj;
  latency?: number;
  app?: string;
  /** generation-less custom resources and others that carry one */
  generation?: boolean;
}

/** POST of one object; the stored object (apiserver-filled metadata, managedFields) goes into the cluster state. */
export function createObject(a: Act, c: CreateIn): Obj {
  const rng = a.rng;
  const name: string = c.req.metadata.name ?? `${c.req.metadata.generateName}${rng.suffix(5)}`;
  const uid = rng.uuid();
  const latency = Math.round(c.latency ?? rng.around(4.5 * MS));
  const created = c.at + latency;
  const body: Body = snap(c.req);
  const m = c.req.metadata;
  const fields: Body = {};
  for (const [k, v] of Object.entries(c.req)) if (k !== 'kind' && k !== 'apiVersion' && k !== 'metadata' && k !== 'status') fields[k] = v;
  const metaFields: Body = {};
  for (const k of ['labels', 'annotations', 'ownerReferences', 'finalizers', 'generateName']) if (m[k] !== undefined) metaFields[k] = m[k];
  body.metadata = {
    name, ...(m.generateName ? { generateName: m.generateName } : {}),
    ...(c.ns ? { namespace: c.ns } : {}), uid, resourceVersion: a.cluster.rv(created),
    ...(c.generation ?? WITH_GENERATION.has(c.res) ? { generation: 1 } : {}),
    creationTimestamp: rfc3339Sec(created),
    ...(m.labels ? { labels: m.labels } : {}), ...(m.annotations ? { annotations: m.annotations } : {}),
    ...(m.ownerReferences ? { ownerReferences: m.ownerReferences } : {}), ...(m.finalizers ? { finalizers: m.finalizers } : {}),
    managedFields: managed([{ manager: c.manager, apiVersion: String(c.req.apiVersion), time: c.at, fields: { ...(Object.keys(metaFields).length ? { metadata: metaFields } : {}), ...fields } }]),
  };
  if (c.defaults) c.defaults(body);
  if (c.status) body.status = c.status;
  const end = a.call({ actor: c.actor, at: c.at, verb: 'create', res: c.res, ns: c.ns, query: c.query, req: c.req, resp: snap(body), latency, trigger: c.trigger });
  const obj = a.cluster.add({ res: c.res, ns: c.ns, name, uid, body, createdAt: end, ownerUid: c.owner?.uid ?? m.ownerReferences?.[0]?.uid, app: c.app });
  a.cluster.busy(end, obj);
  return obj;
}

export interface UpdateIn {
  actor?: Actor;
  at: number;
  obj: Obj;
  /** change the stored object */
  mutate: (body: Body) => void;
  sub?: string;
  /** 'patch' sends `patch` as the request body; 'update' sends the whole object */
  verb?: 'update' | 'patch';
  patch?: Body | Body[];
  manager: string;
  query?: string;
  trigger?: boolean;
  conflictP?: number;
  /** bump metadata.generation (spec changes) */
  generation?: boolean;
  latency?: number;
}

/** PUT/PATCH of an object (or its subresource), with an optional lost race (409) first. */
export function updateObject(a: Act, u: UpdateIn): number {
  const rng = a.rng;
  const o = u.obj;
  let t = u.at;
  const verb = u.verb ?? 'update';
  if (u.conflictP && rng.chance(u.conflictP)) {
    t = a.call({ actor: u.actor, at: t, verb, res: o.res, ns: o.ns, name: o.name, sub: u.sub, code: 409, req: verb === 'patch' ? u.patch : snap(o.body) });
    t += Math.round(rng.around(6 * MS));
  }
  u.mutate(o.body);
  if (u.generation) o.body.metadata.generation = (o.body.metadata.generation ?? 1) + 1;
  const latency = Math.round(u.latency ?? rng.around(3.8 * MS));
  bump(a, o, t + latency);
  const changed: Body = u.sub === 'status' ? { status: o.body.status } : verb === 'patch' && u.patch && !Array.isArray(u.patch) ? u.patch : { spec: o.body.spec };
  setManaged(o.body, { manager: u.manager, apiVersion: String(o.body.apiVersion), time: t, fields: changed, ...(u.sub ? { subresource: u.sub } : {}) });
  const end = a.call({ actor: u.actor, at: t, verb, res: o.res, ns: o.ns, name: o.name, sub: u.sub, query: u.query, req: verb === 'patch' ? u.patch : snap(o.body), resp: snap(o.body), latency, trigger: u.trigger });
  a.cluster.busy(end, o);
  return end;
}

/** DELETE of an object without graceful termination; returns Status Success (or the object while finalizers hold it). */
export function deleteObject(a: Act, d: { actor?: Actor; at: number; obj: Obj; trigger?: boolean; propagation?: string; preconditions?: boolean; keep?: boolean }): number {
  const o = d.obj;
  const r = o.res.includes('/') ? o.res.split('/') : ['', o.res];
  const group = r.length === 2 && o.res.includes('/') ? r[0]! : '';
  const resource = r[r.length - 1]!;
  const finalizers: string[] = o.body.metadata.finalizers ?? [];
  const latency = Math.round(a.rng.around(4 * MS));
  let resp: Body;
  if (finalizers.length) {
    o.body.metadata.deletionTimestamp = rfc3339Sec(d.at);
    o.body.metadata.deletionGracePeriodSeconds = 0;
    bump(a, o, d.at + latency);
    resp = snap(o.body);
  } else resp = statusSuccess(group, resource, o.name, o.uid);
  const req = deleteOptions({ ...(d.propagation ? { propagationPolicy: d.propagation } : {}), ...(d.preconditions ? { preconditions: { uid: o.uid } } : {}) });
  const end = a.call({ actor: d.actor, at: d.at, verb: 'delete', res: o.res, ns: o.ns, name: o.name, req, resp, latency, trigger: d.trigger });
  o.x.deletingAt = d.at;
  if (!d.keep) a.cluster.remove(o);
  return end;
}

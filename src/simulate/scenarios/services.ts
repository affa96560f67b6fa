/** Services with their Endpoints and EndpointSlices. */
import type { Obj } from '../cluster.ts';
import { managed, snap, deleteOptions, statusSuccess, type Body } from '../objects.ts';
import type { Act, Sim } from '../sim.ts';
import { MS, rfc3339Sec } from '../time.ts';
import { garbageCollect } from '../workloads.ts';
import { APPS, idle, imageFor, kubectlManager, kubectlQuery, lastApplied, pickNamespace, uniqueName } from './common.ts';
import type { Scenario } from './types.ts';

export function serviceBodies(sim: Sim, o: { ns: string; name: string; app: string; port: number; targetPort: number; uid: string; rv: string; created: number; manager: string; apply?: boolean; labels?: Record<string, string>; selector?: Record<string, string>; type?: string; headless?: boolean }): { req: Body; body: Body } {
  const labels = o.labels ?? { app: o.app };
  const selector = o.selector ?? { app: o.app };
  const ports = [{ name: o.port === 443 || o.port === 8443 ? 'https' : 'http', protocol: 'TCP', port: o.port, targetPort: o.targetPort }];
  const req: Body = { kind: 'Service', apiVersion: 'v1', metadata: { name: o.name, namespace: o.ns, creationTimestamp: null, labels }, spec: { ...(o.headless ? { clusterIP: 'None' } : {}), ports, selector, type: o.type ?? 'ClusterIP' }, status: { loadBalancer: {} } };
  if (o.apply) req.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied(req) };
  const ip = o.headless ? 'None' : `10.96.${sim.rng.int(0, 255)}.${sim.rng.int(2, 254)}`;
  const body: Body = {
    kind: 'Service', apiVersion: 'v1',
    metadata: {
      name: o.name, namespace: o.ns, uid: o.uid, resourceVersion: o.rv, creationTimestamp: rfc3339Sec(o.created), labels,
      ...(req.metadata.annotations ? { annotations: req.metadata.annotations } : {}),
      managedFields: managed([{ manager: o.manager, apiVersion: 'v1', time: o.created, fields: { metadata: { labels, ...(req.metadata.annotations ? { annotations: req.metadata.annotations } : {}) }, spec: { internalTrafficPolicy: 1, ports, selector, sessionAffinity: 1, type: 1 } } }]),
    },
    spec: { ports, selector, clusterIP: ip, clusterIPs: [ip], type: o.type ?? 'ClusterIP', sessionAffinity: 'None', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', internalTrafficPolicy: 'Cluster' },
    status: { loadBalancer: {} },
  };
  return { req, body };
}

/** The endpoint controllers create the service's Endpoints and EndpointSlice (with any ready pods). */
export function serviceEndpoints(a: Act, t: number, svc: Obj): number {
  const rng = a.rng;
  const ns = svc.ns!;
  const sel: Record<string, string> = svc.body.spec.selector ?? {};
  const pods = a.cluster.list('pods', ns, (p) => !p.gone && p.x.deletingAt === undefined && Object.entries(sel).every(([k, v]) => p.body.metadata.labels?.[k] === v) && p.x.ipAt !== undefined && p.x.ipAt <= t);
  const members = new Map<string, { pod: Obj; ready: boolean }>();
  for (const p of pods) members.set(p.uid, { pod: p, ready: p.x.readyAt !== undefined && p.x.readyAt <= t });
  svc.x.members = members;
  const p0 = svc.body.spec.ports[0];
  const port = { ...p0, targetPort: typeof p0.targetPort === 'number' ? p0.targetPort : p0.port };
  const owner = { apiVersion: 'v1', kind: 'Service', name: svc.name, uid: svc.uid, controller: true, blockOwnerDeletion: true };
  let end = t;
  {
    const ts = t + Math.round(rng.around(5 * MS));
    const name = `${svc.name}-${rng.suffix(5)}`;
    const labels = { ...(svc.body.metadata.labels ?? {}), 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io', 'kubernetes.io/service-name': svc.name, ...(svc.body.spec.clusterIP === 'None' ? { 'service.kubernetes.io/headless': '' } : {}) };
    const endpoints = [...members.values()].map(({ pod, ready }) => ({ addresses: [pod.x.ip], conditions: { ready, serving: ready, terminating: false }, targetRef: { kind: 'Pod', namespace: ns, name: pod.name, uid: pod.uid }, nodeName: pod.node, zone: 'zone-a' }));
    const ports = [{ name: port.name, protocol: 'TCP', port: port.targetPort }];
    const req: Body = { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', metadata: { generateName: `${svc.name}-`, namespace: ns, creationTimestamp: null, labels, annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': rfc3339Sec(t) }, ownerReferences: [owner] }, addressType: 'IPv4', ...(endpoints.length ? { endpoints } : {}), ports };
    const uid = rng.uuid();
    const lat = Math.round(rng.around(4 * MS));
    const body: Body = { ...snap(req), metadata: { ...snap(req.metadata), name, uid, resourceVersion: a.cluster.rv(ts + lat), generation: 1, creationTimestamp: rfc3339Sec(ts + lat), managedFields: managed([{ manager: 'kube-controller-manager', apiVersion: 'discovery.k8s.io/v1', time: ts, fields: { addressType: 1, ...(endpoints.length ? { endpoints } : {}), metadata: { annotations: req.metadata.annotations, generateName: 1, labels, ownerReferences: [owner] }, ports } }]) } };
    const e = a.call({ actor: a.sys.ctrl['endpointslice-controller'], at: ts, verb: 'create', res: 'discovery.k8s.io/endpointslices', ns, req, resp: snap(body), latency: lat });
    svc.x.slice = a.cluster.add({ res: 'discovery.k8s.io/endpointslices', ns, name, uid, body, createdAt: e, ownerUid: svc.uid });
    end = Math.max(end, e);
  }
  {
    const te = t + Math.round(rng.around(7 * MS));
    const ready = [...members.values()].filter((m) => m.ready);
    const notReady = [...members.values()].filter((m) => !m.ready);
    const addr = (m: { pod: Obj }) => ({ ip: m.pod.x.ip, nodeName: m.pod.node, targetRef: { kind: 'Pod', namespace: ns, name: m.pod.name, uid: m.pod.uid } });
    const subsets = members.size ? [{ ...(ready.length ? { addresses: ready.map(addr) } : {}), ...(notReady.length ? { notReadyAddresses: notReady.map(addr) } : {}), ports: [{ name: port.name, port: port.targetPort, protocol: 'TCP' }] }] : undefined;
    const labels = { ...(svc.body.metadata.labels ?? {}) };
    const req: Body = { kind: 'Endpoints', apiVersion: 'v1', metadata: { name: svc.name, namespace: ns, creationTimestamp: null, labels, annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': rfc3339Sec(t) } }, ...(subsets ? { subsets } : {}) };
    const uid = rng.uuid();
    const lat = Math.round(rng.around(4 * MS));
    const body: Body = { ...snap(req), metadata: { ...snap(req.metadata), uid, resourceVersion: a.cluster.rv(te + lat), creationTimestamp: rfc3339Sec(te + lat), managedFields: managed([{ manager: 'kube-controller-manager', apiVersion: 'v1', time: te, fields: { metadata: { annotations: req.metadata.annotations, labels }, ...(subsets ? { subsets } : {}) } }]) } };
    const e = a.call({ actor: a.sys.ctrl['endpoint-controller'], at: te, verb: 'create', res: 'endpoints', ns, req, resp: snap(body), latency: lat });
    svc.x.endpoints = a.cluster.add({ res: 'endpoints', ns, name: svc.name, uid, body, createdAt: e, ownerUid: undefined });
    end = Math.max(end, e);
  }
  return end;
}

export function createService(a: Act, t: number, o: { ns: string; name: string; app: string; port: number; targetPort: number; apply: boolean; trigger?: boolean; query?: string; manager?: string; labels?: Record<string, string>; selector?: Record<string, string>; headless?: boolean }): Obj {
  const sim = a.sim;
  const uid = sim.rng.uuid();
  const lat = Math.round(sim.rng.around(5 * MS));
  const { req, body } = serviceBodies(sim, { ...o, uid, rv: sim.cluster.rv(t + lat), created: t + lat, manager: o.manager ?? kubectlManager(o.apply ? 'apply' : 'create') });
  const end = a.call({ trigger: o.trigger, at: t, verb: 'create', res: 'services', ns: o.ns, query: o.query ?? kubectlQuery(o.apply ? 'apply' : 'create'), req, resp: snap(body), latency: lat });
  const svc = sim.cluster.add({ res: 'services', ns: o.ns, name: o.name, uid, body, createdAt: end, app: o.app });
  serviceEndpoints(a, end, svc);
  return svc;
}

export const serviceCreate: Scenario = {
  name: 'service-create', shrink: 'service-delete', summary: 'kubectl expose / apply a Service: Endpoints and EndpointSlice created by the endpoint controllers',
  trigger: 'create services', weight: 3,
  run(sim, user, t0) {
    const a = sim.action(user, t0, { verb: 'create', res: 'services' });
    const ns = pickNamespace(a);
    // expose an existing deployment without a service, else a new app name
    const deps = sim.cluster.list('apps/deployments', ns, (d) => !!d.app && !sim.cluster.list('services', ns, (s) => s.app === d.app).length);
    const app = deps.length && sim.rng.chance(0.8) ? sim.rng.pick(deps).app! : uniqueName(sim, 'services', ns, sim.rng.pick(APPS).app);
    const name = uniqueName(sim, 'services', ns, app);
    const port = imageFor(app.replace(/-\d+$/, '')).port ?? 8080;
    const apply = sim.rng.chance(0.5);
    let t = a.discovery(t0);
    if (apply) t = a.think(a.call({ at: t, verb: 'get', res: 'services', ns, name, code: 404 }));
    else if (deps.length) t = a.think(a.call({ at: t, verb: 'get', res: 'apps/deployments', ns, name: app })); // kubectl expose reads the deployment
    createService(a, t, { ns, name, app, port: port === 8080 ? 80 : port, targetPort: port, apply, trigger: true, query: apply ? undefined : 'fieldManager=kubectl-expose&fieldValidation=Strict', manager: apply ? undefined : 'kubectl-expose' });
    return a;
  },
};

export const serviceDelete: Scenario = {
  name: 'service-delete', summary: 'kubectl delete service: endpoints removed by the endpoint controller, slices by the garbage collector',
  trigger: 'delete services', weight: 1.5, fallback: 'service-create',
  run(sim, user, t0) {
    const svcs = idle(sim, 'services', t0, (s) => s.name !== 'kubernetes' && !s.x.helm);
    if (!svcs.length) return undefined;
    const svc = sim.rng.pick(svcs);
    const a = sim.action(user, t0, { verb: 'delete', res: 'services' });
    const t = a.discovery(t0);
    svc.body.metadata.deletionTimestamp = rfc3339Sec(t);
    const end = a.call({ trigger: true, at: t, verb: 'delete', res: 'services', ns: svc.ns, name: svc.name, req: deleteOptions({ propagationPolicy: 'Background' }), resp: statusSuccess('', 'services', svc.name, svc.uid) });
    sim.cluster.remove(svc);
    const ep: Obj | undefined = svc.x.endpoints;
    if (ep && !ep.gone) {
      a.call({ actor: sim.sys.ctrl['endpoint-controller'], at: end + Math.round(sim.rng.around(6 * MS)), verb: 'delete', res: 'endpoints', ns: svc.ns, name: ep.name, req: deleteOptions(), resp: statusSuccess('', 'endpoints', ep.name, ep.uid) });
      sim.cluster.remove(ep);
    }
    garbageCollect(a, end, svc);
    return a;
  },
};

export const SERVICE_SCENARIOS: Scenario[] = [serviceCreate, serviceDelete];

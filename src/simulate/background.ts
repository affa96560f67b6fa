/**
 * Background traffic: what an idle cluster sends all the time and what no user action caused.
 * Periodic sources (node and leader-election leases, kubelet node status) run on their real
 * periods; the rest (discovery GETs, long-running watches ending, controller resyncs, token
 * requests and reviews, events, health checks) fills up to the configured background share.
 */
import type { BackgroundKind } from '../types/label.ts';
import type { Obj, SimNode } from './cluster.ts';
import type { Call } from './emit.ts';
import { K8S_COMMIT, K8S_VERSION, CONTROL_PLANE_IP, type Actor } from './identity.ts';
import { leaderLease, nodeConditions, nodeLease } from './nodes.ts';
import { coreEvent, involved, snap, type Body } from './objects.ts';
import { resourceInfo } from './resources.ts';
import type { Rng } from './rng.ts';
import type { Sim } from './sim.ts';
import { cronRun, nextMinute } from './scenarios/batch.ts';
import { MS, SEC, rfc3339Sec } from './time.ts';

interface Periodic { next: number; period: number; fire(t: number): void }

const FILLER: readonly (readonly [BackgroundKind, number])[] = [
  ['discovery', 0.5], ['watch', 0.14], ['controller', 0.12], ['token', 0.1], ['events', 0.04], ['other', 0.1],
];

/** expected raw events per action, by scenario, before the run has measured its own */
export const PRIOR_EVENTS_PER_ACTION = 30;

export class Background {
  private readonly periodic: Periodic[] = [];
  private readonly rng: Rng;
  private readonly k: number;
  private readonly prometheus: Actor;
  private readonly ksm: Actor;
  private readonly lb: Actor;
  private readonly sharedInformers: Actor;
  private readonly priorRate: number; // action events per second expected
  private readonly leaderUids: { kcm: string; sched: string; apiserver: string };
  private readonly apiserverLease: string;

  constructor(private readonly sim: Sim, priorEventsPerAction: number) {
    this.rng = sim.bgRng;
    const share = Math.min(0.97, Math.max(0, sim.opts.backgroundShare));
    this.k = share / (1 - share);
    this.priorRate = (sim.opts.actionsPerMinute / 60) * priorEventsPerAction;
    const rng = this.rng;
    this.leaderUids = { kcm: rng.uuid(), sched: rng.uuid(), apiserver: rng.uuid() };
    this.apiserverLease = `apiserver-${rng.suffix(26).replace(/[^a-z0-9]/g, 'a')}`;
    this.prometheus = {
      username: 'system:serviceaccount:monitoring:prometheus-k8s', uid: rng.uuid(),
      groups: ['system:serviceaccounts', 'system:serviceaccounts:monitoring', 'system:authenticated'],
      userAgent: 'Prometheus/2.51.2', ip: '10.244.2.17', kind: 'addon',
      reason: 'RBAC: allowed by ClusterRoleBinding "prometheus-k8s" of ClusterRole "prometheus-k8s" to ServiceAccount "prometheus-k8s/monitoring"',
    };
    this.ksm = {
      username: 'system:serviceaccount:monitoring:kube-state-metrics', uid: rng.uuid(),
      groups: ['system:serviceaccounts', 'system:serviceaccounts:monitoring', 'system:authenticated'],
      userAgent: 'kube-state-metrics/v2.12.0 (linux/amd64) kubernetes/$Format', ip: '10.244.1.9', kind: 'addon',
      reason: 'RBAC: allowed by ClusterRoleBinding "kube-state-metrics" of ClusterRole "kube-state-metrics" to ServiceAccount "kube-state-metrics/monitoring"',
    };
    this.lb = { ...sim.sys.anonymous('10.0.0.1'), userAgent: 'ELB-HealthChecker/2.0' };
    this.sharedInformers = { ...sim.sys.kcm, userAgent: `kube-controller-manager/${K8S_VERSION} (linux/amd64) kubernetes/${K8S_COMMIT}/shared-informers` };
    if (share <= 0) return;
    const start = sim.start;
    for (const n of sim.cluster.nodes) {
      this.every(start + rng.range(0, 10 * SEC), 10 * SEC, (t) => this.nodeLeaseRenew(n, t));
      this.every(start + rng.range(0, 10 * SEC), 10 * SEC, (t) => this.nodeStatusCheck(n, t));
      this.every(start + rng.range(0, 300 * SEC), 300 * SEC, (t) => this.nodeStatusPatch(n, t));
    }
    this.every(start + rng.range(0, 2 * SEC), 2 * SEC, (t) => this.leaderRenew(t, 'kube-controller-manager'));
    this.every(start + rng.range(0, 2 * SEC), 2 * SEC, (t) => this.leaderRenew(t, 'kube-scheduler'));
    this.every(start + rng.range(0, 10 * SEC), 10 * SEC, (t) => this.apiserverLeaseRenew(t));
  }

  private every(first: number, period: number, fire: (t: number) => void): void {
    this.periodic.push({ next: Math.round(first), period, fire });
  }

  /** Generates background for [t, t + 1 s). */
  tick(t: number): void {
    if (this.k <= 0) return;
    const until = t + SEC;
    for (const p of this.periodic) {
      while (p.next < until) {
        const jitter = Math.round(this.rng.range(-30, 30) * MS);
        p.fire(Math.max(t, p.next + jitter));
        p.next += p.period;
      }
    }
    // CronJobs run on schedule: control-plane work no user action caused
    for (const cj of this.sim.cluster.list('batch/cronjobs', undefined, (c) => c.x.nextRun !== undefined && c.x.nextRun < until && !c.gone)) {
      const at = Math.max(t, cj.x.nextRun as number) + Math.round(this.rng.around(15 * MS));
      cronRun(this.sim.bgAct(at, 'controller'), at, cj);
      cj.x.nextRun = nextMinute(cj.x.nextRun, cj.x.every ?? 1);
    }
    // fill toward the target share: cumulative target from the measured action rate (smoothed
    // with the prior while little has been measured)
    const elapsed = (until - this.sim.start) / SEC;
    const W = 60;
    const stats = this.sim.emitter.stats;
    const rate = (stats.action + this.priorRate * W) / (elapsed + W);
    const target = this.k * rate * elapsed;
    const deficit = target - stats.background;
    const n = this.rng.poisson(Math.max(0, Math.min(deficit, this.k * rate * 3)));
    for (let i = 0; i < n; i++) {
      const at = t + Math.floor(this.rng.next() * SEC);
      this.filler(this.rng.weighted(FILLER), at);
    }
  }

  private bg(kind: BackgroundKind, c: Call): number { return this.sim.bg(kind, c, this.rng); }

  // ------------------------------------------------------------ periodic

  private nodeLeaseRenew(n: SimNode, t: number): void {
    const lat = Math.round(this.rng.around(2.5 * MS));
    const rv = this.sim.cluster.rv(t + lat);
    const prevRv = String(Number(rv) - this.rng.int(50, 400));
    const req = nodeLease(n, prevRv, t, this.sim.start - 86_400 * SEC);
    this.bg('lease', { actor: n.kubelet, at: t, verb: 'update', res: 'coordination.k8s.io/leases', ns: 'kube-node-lease', name: n.name, req, resp: { ...snap(req), metadata: { ...snap(req.metadata), resourceVersion: rv } }, latency: lat });
  }

  private nodeStatusCheck(n: SimNode, t: number): void {
    this.bg('node-status', { actor: n.kubelet, at: t, verb: 'get', res: 'nodes', name: n.name, query: 'resourceVersion=0&timeout=10s', latency: this.rng.around(0.8 * MS) });
  }

  private nodeStatusPatch(n: SimNode, t: number): void {
    const conds = nodeConditions(t, this.sim.start - 86_400 * SEC);
    n.body.status.conditions = conds;
    const lat = Math.round(this.rng.around(4 * MS));
    n.body.metadata.resourceVersion = this.sim.cluster.rv(t + lat);
    const patch = { status: { '$setElementOrder/conditions': conds.map((c) => ({ type: c.type })), conditions: conds.map((c) => ({ lastHeartbeatTime: c.lastHeartbeatTime, type: c.type })) } };
    this.bg('node-status', { actor: n.kubelet, at: t, verb: 'patch', res: 'nodes', name: n.name, sub: 'status', req: patch, resp: snap(n.body), latency: lat });
  }

  private leaderRenew(t: number, which: 'kube-controller-manager' | 'kube-scheduler'): void {
    const actor = which === 'kube-controller-manager' ? this.sim.sys.kcm : { ...this.sim.sys.scheduler, userAgent: `kube-scheduler/${K8S_VERSION} (linux/amd64) kubernetes/${K8S_COMMIT}/leader-election` };
    const uid = which === 'kube-controller-manager' ? this.leaderUids.kcm : this.leaderUids.sched;
    const holder = `control-plane_${uid.slice(0, 8)}-${uid.slice(9, 13)}-4${uid.slice(15, 18)}-a${uid.slice(20, 23)}-${uid.slice(24)}`;
    const tg = this.bg('lease', { actor, at: t, verb: 'get', res: 'coordination.k8s.io/leases', ns: 'kube-system', name: which, latency: this.rng.around(0.9 * MS) });
    const tu = tg + Math.round(this.rng.around(0.6 * MS));
    const lat = Math.round(this.rng.around(2.5 * MS));
    const rv = this.sim.cluster.rv(tu + lat);
    const body = leaderLease(which, uid, holder, String(Number(rv) - this.rng.int(20, 200)), tu, this.sim.start - 3_600 * SEC, this.sim.start - 86_400 * SEC, which);
    this.bg('lease', { actor, at: tu, verb: 'update', res: 'coordination.k8s.io/leases', ns: 'kube-system', name: which, req: body, resp: { ...snap(body), metadata: { ...snap(body.metadata), resourceVersion: rv } }, latency: lat });
  }

  private apiserverLeaseRenew(t: number): void {
    const lat = Math.round(this.rng.around(2.5 * MS));
    const rv = this.sim.cluster.rv(t + lat);
    const body = leaderLease(this.apiserverLease, this.leaderUids.apiserver, `${this.apiserverLease}_${this.leaderUids.apiserver}`, String(Number(rv) - 300), t, this.sim.start - 86_400 * SEC, this.sim.start - 86_400 * SEC, 'kube-apiserver');
    body.metadata.labels = { 'apiserver.kubernetes.io/identity': 'kube-apiserver', 'kubernetes.io/hostname': 'control-plane' };
    body.spec.leaseDurationSeconds = 3600;
    delete body.spec.acquireTime; delete body.spec.leaseTransitions;
    this.bg('lease', { actor: this.sim.sys.apiserver, at: t, verb: 'update', res: 'coordination.k8s.io/leases', ns: 'kube-system', name: this.apiserverLease, req: body, resp: { ...snap(body), metadata: { ...snap(body.metadata), resourceVersion: rv } }, latency: lat });
  }

  // ------------------------------------------------------------ filler

  private filler(kind: BackgroundKind, t: number): void {
    switch (kind) {
      case 'discovery': return this.discovery(t);
      case 'watch': return this.watch(t);
      case 'controller': return this.controller(t);
      case 'token': return this.token(t);
      case 'events': return this.events(t);
      default: return this.other(t);
    }
  }

  private discovery(t: number): void {
    const rng = this.rng;
    const sys = this.sim.sys;
    const who = rng.weighted<Actor>([
      [sys.ctrl['generic-garbage-collector'], 3], [sys.ctrl['resourcequota-controller'], 3], [sys.ctrl['namespace-controller'], 1],
      [sys.ctrl['horizontal-pod-autoscaler'], 1], [this.prometheus, 1], [this.ksm, 1], [sys.metricsServer, 1], [sys.coredns, 0.5],
      ...this.sim.users.map((u) => [u, 1.5] as [Actor, number]),
    ]);
    const human = who.kind === 'human' || who.kind === 'ci';
    const paths = human
      ? [['/api', 3], ['/apis', 3], ['/openapi/v3', 0.5], ['/openapi/v3/apis/apps/v1', 0.5], ['/version', 0.5], ['/api/v1', 0.3], ['/apis/apps/v1', 0.3]] as const
      : [['/api', 2], ['/apis', 2], ['/api/v1', 1], ['/apis/apps/v1', 0.6], ['/apis/batch/v1', 0.3], ['/apis/networking.k8s.io/v1', 0.3], ['/apis/rbac.authorization.k8s.io/v1', 0.3], ['/apis/discovery.k8s.io/v1', 0.3], ['/apis/coordination.k8s.io/v1', 0.3], ['/apis/metrics.k8s.io/v1beta1', 0.4], ['/apis/apiextensions.k8s.io/v1', 0.2], ['/version', 0.3]] as const;
    let path: string = rng.weighted(paths);
    if (path.startsWith('/openapi/v3/')) path += `?hash=${rng.hex(128).toUpperCase()}`;
    this.bg('discovery', { actor: who, at: t, verb: 'get', path, latency: rng.around(1.2 * MS, 0.6) });
  }

  private watchSpec(): { actor: Actor; res: string; ns?: string; query?: string } {
    const rng = this.rng;
    const sys = this.sim.sys;
    const nodes = this.sim.cluster.nodes;
    const n = rng.pick(nodes);
    const cluster = this.sim.cluster;
    const nsOf = () => { const l = cluster.list('namespaces', undefined, (x) => !x.x.terminating); return l.length ? rng.pick(l).name : 'default'; };
    return rng.weighted<() => { actor: Actor; res: string; ns?: string; query?: string }>([
      [() => ({ actor: n.kubelet, res: 'pods', query: `fieldSelector=spec.nodeName%3D${n.name}` }), 2],
      [() => ({ actor: n.kubelet, res: 'nodes', query: `fieldSelector=metadata.name%3D${n.name}` }), 1],
      [() => ({ actor: n.kubelet, res: 'services' }), 1],
      [() => ({ actor: n.kubelet, res: 'configmaps', ns: nsOf(), query: 'fieldSelector=metadata.name%3Dkube-root-ca.crt' }), 2],
      [() => ({ actor: n.kubelet, res: 'node.k8s.io/runtimeclasses' }), 0.5],
      [() => ({ actor: sys.kubeProxy(n.name, n.ip), res: 'discovery.k8s.io/endpointslices', query: 'labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name' }), 1],
      [() => ({ actor: sys.kubeProxy(n.name, n.ip), res: 'services', query: 'labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name' }), 1],
      [() => ({ actor: this.sharedInformers, res: rng.pick(['pods', 'apps/replicasets', 'apps/deployments', 'apps/statefulsets', 'apps/daemonsets', 'batch/jobs', 'batch/cronjobs', 'services', 'endpoints', 'discovery.k8s.io/endpointslices', 'namespaces', 'nodes', 'serviceaccounts', 'secrets', 'configmaps', 'persistentvolumeclaims', 'persistentvolumes', 'resourcequotas', 'rbac.authorization.k8s.io/roles', 'rbac.authorization.k8s.io/rolebindings', 'certificates.k8s.io/certificatesigningrequests', 'policy/poddisruptionbudgets', 'coordination.k8s.io/leases', 'storage.k8s.io/storageclasses']) }), 6],
      [() => ({ actor: { ...sys.scheduler, userAgent: `kube-scheduler/${K8S_VERSION} (linux/amd64) kubernetes/${K8S_COMMIT}/scheduler` }, res: rng.pick(['pods', 'nodes', 'persistentvolumeclaims', 'persistentvolumes', 'storage.k8s.io/csinodes', 'storage.k8s.io/storageclasses', 'namespaces', 'policy/poddisruptionbudgets', 'apps/replicasets', 'apps/statefulsets', 'services']), }), 3],
      [() => ({ actor: sys.coredns, res: rng.pick(['discovery.k8s.io/endpointslices', 'services', 'namespaces']) }), 1],
      [() => ({ actor: this.ksm, res: rng.pick(['pods', 'apps/deployments', 'nodes', 'namespaces', 'batch/jobs', 'apps/replicasets', 'services', 'persistentvolumeclaims']) }), 1],
      [() => ({ actor: sys.apiserver, res: rng.pick(['flowcontrol.apiserver.k8s.io/flowschemas', 'rbac.authorization.k8s.io/clusterroles', 'rbac.authorization.k8s.io/clusterrolebindings', 'admissionregistration.k8s.io/validatingwebhookconfigurations', 'scheduling.k8s.io/priorityclasses', 'apiextensions.k8s.io/customresourcedefinitions']) }), 1],
    ])();
  }

  /** a reflector's watch ends (its timeoutSeconds ran out); in 'all' mode watches open instead */
  private watch(t: number): void {
    const rng = this.rng;
    const w = this.watchSpec();
    const timeoutSec = rng.int(300, 599);
    const dur = timeoutSec * SEC;
    const rvBase = Number(this.sim.cluster.rv(t)) - rng.int(1000, 60_000);
    const q = [`allowWatchBookmarks=true`, ...(w.query ? [w.query] : []), `resourceVersion=${rvBase}`, `timeout=${Math.floor(timeoutSec / 60)}m${timeoutSec % 60}s`, `timeoutSeconds=${timeoutSec}`, 'watch=true'].join('&');
    const all = this.sim.opts.stages === 'all';
    const r = resourceInfo(w.res);
    const ns = r.namespaced ? w.ns : undefined;
    if (all) {
      this.bg('watch', { actor: w.actor, at: t, verb: 'watch', res: w.res, ns, query: q, duration: dur, openEnded: t + dur > this.sim.end, latency: rng.around(1 * MS) });
    } else {
      const lat = Math.round(rng.around(1 * MS));
      this.bg('watch', { actor: w.actor, at: t - dur - lat, verb: 'watch', res: w.res, ns, query: q, duration: dur, latency: lat });
    }
  }

  private controller(t: number): void {
    const rng = this.rng;
    const sys = this.sim.sys;
    const cluster = this.sim.cluster;
    const c = rng.weighted<() => void>([
      [() => { // informer relist after a watch expired or resync
        const res = rng.pick(['pods', 'nodes', 'services', 'namespaces', 'apps/deployments', 'apps/replicasets', 'discovery.k8s.io/endpointslices', 'persistentvolumes', 'batch/jobs']);
        this.bg('controller', { actor: this.sharedInformers, at: t, verb: 'list', res, query: 'limit=500&resourceVersion=0', latency: rng.around(4 * MS, 0.7) });
      }, 2],
      [() => { // kube-state-metrics / prometheus service discovery lists
        const res = rng.pick(['pods', 'nodes', 'services', 'endpoints', 'apps/deployments', 'namespaces', 'discovery.k8s.io/endpointslices']);
        this.bg('controller', { actor: rng.chance(0.5) ? this.ksm : this.prometheus, at: t, verb: 'list', res, query: 'limit=500&resourceVersion=0', latency: rng.around(5 * MS, 0.7) });
      }, 2],
      [() => { // metrics-server scrapes node list
        this.bg('controller', { actor: sys.metricsServer, at: t, verb: 'list', res: 'nodes', query: 'limit=500&resourceVersion=0', latency: rng.around(2 * MS) });
      }, 1],
      [() => { // components re-read the authentication configmap
        const who = rng.pick([sys.kcm, sys.scheduler, sys.metricsServer]);
        this.bg('controller', { actor: who, at: t, verb: 'get', res: 'configmaps', ns: 'kube-system', name: 'extension-apiserver-authentication', latency: rng.around(1.2 * MS) });
      }, 1],
      [() => { // local-path provisioner leader check, coredns config
        this.bg('controller', { actor: sys.localPath, at: t, verb: 'get', res: 'coordination.k8s.io/leases', ns: 'local-path-storage', name: 'rancher.io-local-path', latency: rng.around(1.2 * MS) });
      }, 0.5],
      [() => { // ttl controller / node controller touch nodes
        const n = rng.pick(cluster.nodes);
        this.bg('controller', { actor: sys.ctrl['node-controller'], at: t, verb: 'get', res: 'nodes', name: n.name, latency: rng.around(1 * MS) });
      }, 0.5],
    ]);
    c();
  }

  private runningPod(): Obj | undefined {
    const pods = this.sim.cluster.list('pods', undefined, (p) => !!p.x.ready && !p.x.deletingAt && !!p.node);
    return pods.length ? this.rng.pick(pods) : undefined;
  }

  private token(t: number): void {
    const rng = this.rng;
    const sys = this.sim.sys;
    const pod = this.runningPod();
    const choice = rng.weighted([['renew', pod ? 3 : 0], ['review', 2], ['sar', 2]] as const);
    if (choice === 'renew' && pod) {
      // the kubelet refreshes a projected service account token (80% of its lifetime)
      const n = this.sim.cluster.node(pod.node!);
      const sa = pod.body.spec.serviceAccountName ?? 'default';
      const req = { kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1', metadata: { name: sa, namespace: pod.ns, creationTimestamp: null }, spec: { audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: 3607, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.name, uid: pod.uid } }, status: { token: '', expirationTimestamp: null } };
      this.bg('token', { actor: n.kubelet, at: t, verb: 'create', res: 'serviceaccounts', ns: pod.ns, name: sa, sub: 'token', req, resp: { ...snap(req), status: { token: '', expirationTimestamp: rfc3339Sec(t + 3607 * SEC) } } });
      return;
    }
    const n = rng.pick(this.sim.cluster.nodes);
    if (choice === 'review') {
      // kubelet authenticates a scraper with a TokenReview (webhook authn)
      const req = { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec: { token: '' }, status: { user: {} } };
      this.bg('token', { actor: n.kubelet, at: t, verb: 'create', res: 'authentication.k8s.io/tokenreviews', req, resp: { ...snap(req), status: { authenticated: true, user: { username: this.prometheus.username, uid: this.prometheus.uid, groups: this.prometheus.groups }, audiences: ['https://kubernetes.default.svc.cluster.local'] } }, latency: rng.around(1.5 * MS) });
      return;
    }
    const who = rng.chance(0.5) ? this.prometheus : sys.metricsServer;
    const sub = rng.pick(['metrics', 'stats', 'proxy']);
    const req = { kind: 'SubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: { creationTimestamp: null }, spec: { resourceAttributes: { verb: 'get', version: 'v1', resource: 'nodes', subresource: sub, name: n.name }, user: who.username, groups: who.groups, uid: who.uid }, status: { allowed: false } };
    this.bg('token', { actor: n.kubelet, at: t, verb: 'create', res: 'authorization.k8s.io/subjectaccessreviews', req, resp: { ...snap(req), status: { allowed: true, reason: who.reason.replace(/^RBAC: /, 'RBAC: ') } }, latency: rng.around(1.5 * MS) });
  }

  private events(t: number): void {
    const rng = this.rng;
    const n = rng.pick(this.sim.cluster.nodes);
    const sysPods = this.sim.cluster.list('pods', 'kube-system');
    const pod = sysPods.length ? rng.pick(sysPods) : undefined;
    let req: Body; let resp: Body;
    if (pod && rng.chance(0.7)) {
      const [q, r] = coreEvent({
        ns: 'kube-system', name: `${pod.name}.${(BigInt(Math.floor(t)) * 1000n).toString(16)}`, uid: rng.uuid(), rv: this.sim.cluster.rv(t), at: t,
        involved: involved('Pod', 'v1', pod.body, `spec.containers{${pod.body.spec.containers[0].name}}`), reason: 'Unhealthy', type: 'Warning',
        message: rng.pick(['Readiness probe failed: HTTP probe failed with statuscode: 503', 'Liveness probe failed: Get "http://10.244.0.3:8080/health": context deadline exceeded (Client.Timeout exceeded while awaiting headers)']),
        component: 'kubelet', host: pod.node ?? n.name, manager: 'kubelet',
      });
      req = q; resp = r;
      this.bg('events', { actor: this.sim.cluster.node(pod.node ?? n.name).kubelet, at: t, verb: 'create', res: 'events', ns: 'kube-system', req, resp, latency: rng.around(2 * MS) });
      return;
    }
    const [q, r] = coreEvent({
      ns: 'default', name: `${n.name}.${(BigInt(Math.floor(t)) * 1000n).toString(16)}`, uid: rng.uuid(), rv: this.sim.cluster.rv(t), at: t,
      involved: { kind: 'Node', name: n.name, uid: n.name, apiVersion: 'v1' }, reason: rng.pick(['ImageGCFailed', 'FreeDiskSpaceFailed', 'ContainerGCFailed']), type: 'Warning',
      message: 'failed to garbage collect required amount of images. Attempted to free 2147483648 bytes, but only found 0 bytes eligible to free.',
      component: 'kubelet', host: n.name, manager: 'kubelet',
    });
    this.bg('events', { actor: n.kubelet, at: t, verb: 'create', res: 'events', ns: 'default', req: q, resp: r, latency: rng.around(2 * MS) });
  }

  private other(t: number): void {
    const rng = this.rng;
    const kind = rng.weighted([['lb', 3], ['prom', 1], ['ready', 1]] as const);
    if (kind === 'lb') this.bg('other', { actor: this.lb, at: t, verb: 'get', path: rng.pick(['/livez', '/readyz', '/healthz']), latency: rng.around(0.4 * MS) });
    else if (kind === 'prom') this.bg('other', { actor: this.prometheus, at: t, verb: 'get', path: '/metrics', latency: rng.around(25 * MS) });
    else this.bg('other', { actor: { ...this.sim.sys.anonymous(CONTROL_PLANE_IP), userAgent: 'kube-probe/1.30' }, at: t, verb: 'get', path: rng.pick(['/livez', '/readyz']), latency: rng.around(0.5 * MS) });
  }
}

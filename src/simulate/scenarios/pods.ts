/** Pods: kubectl run, delete (a controller replaces owned pods), exec, logs. */
import type { Obj } from '../cluster.ts';
import { createPod, deletePodRequest, kubeletStartPod, kubeletStopPod, schedulePod } from '../kube.ts';
import { podTemplate } from '../objects.ts';
import type { Sim } from '../sim.ts';
import { MS, SEC } from '../time.ts';
import { deploymentStatusUpdate, rsReconcile } from '../workloads.ts';
import { idle, kubectlQuery, pickNamespace, uniqueName } from './common.ts';
import type { Scenario } from './types.ts';

const RUN_IMAGES = ['busybox:1.36', 'nginx:1.25.4', 'curlimages/curl:8.7.1', 'alpine:3.19', 'nicolaka/netshoot:v0.12', 'postgres:16.2'];

export const podCreate: Scenario = {
  name: 'pod-create', shrink: 'pod-delete', summary: 'kubectl run: a bare pod, scheduling, kubelet start',
  trigger: 'create pods', weight: 4,
  run(sim, user, t0) {
    const a = sim.action(user, t0, { verb: 'create', res: 'pods' });
    const ns = pickNamespace(a);
    const image = sim.rng.pick(RUN_IMAGES);
    const base = image.split('/').pop()!.split(':')[0]!.replace(/[^a-z0-9-]/g, '');
    const name = uniqueName(sim, 'pods', ns, sim.rng.chance(0.5) ? base : `${base}-${sim.rng.suffix(4)}`);
    const sleeper = !image.startsWith('nginx') && !image.startsWith('postgres');
    const template = podTemplate({ run: name }, [{ name, image, ...(sleeper ? { command: ['sleep', '3600'] } : {}), ...(image.startsWith('postgres') ? { env: { POSTGRES_PASSWORD: 'example' } } : {}) }]);
    const t = a.discovery(t0);
    const { pod, end } = createPod(a, t, { actor: user, ns, template, name, manager: 'kubectl-run', query: kubectlQuery('run'), trigger: true });
    const bound = schedulePod(a, end, pod);
    kubeletStartPod(a, bound, pod);
    sim.cluster.busy(a.end, pod);
    return a;
  },
};

function ownerChain(sim: Sim, pod: Obj): { rs?: Obj; dep?: Obj } {
  const rs = pod.ownerUid ? sim.cluster.byId(pod.ownerUid) : undefined;
  const dep = rs?.ownerUid ? sim.cluster.byId(rs.ownerUid) : undefined;
  return { rs: rs && !rs.gone ? rs : undefined, dep: dep && !dep.gone ? dep : undefined };
}

export const podDelete: Scenario = {
  name: 'pod-delete', summary: 'kubectl delete pod: graceful termination; a ReplicaSet-owned pod is replaced by a new one',
  trigger: 'delete pods', weight: 4, fallback: 'pod-create',
  run(sim, user, t0) {
    const pods = idle(sim, 'pods', t0, (p) => !!p.x.ready && (!p.ownerUid || sim.cluster.byId(p.ownerUid)?.res === 'apps/replicasets'));
    if (!pods.length) return undefined;
    const pod = sim.rng.pick(pods);
    const { rs, dep } = ownerChain(sim, pod);
    if (rs && rs.busyUntil > t0) return undefined;
    const a = sim.action(user, t0, { verb: 'delete', res: 'pods' });
    const t = a.discovery(t0);
    pod.x.deletingAt = t;
    const e = deletePodRequest(a, t, pod, user, { trigger: true });
    kubeletStopPod(a, e, pod);
    if (rs && (rs.body.spec.replicas ?? 0) > 0) {
      rsReconcile(a, e + Math.round(sim.rng.around(2 * MS)), rs, { onChange: dep ? (ti) => deploymentStatusUpdate(a, ti + Math.round(sim.rng.around(3 * MS)), dep) : undefined });
    }
    sim.cluster.busy(a.end, rs, dep);
    return a;
  },
};

function runningPod(sim: Sim, t0: number): Obj | undefined {
  const pods = idle(sim, 'pods', t0, (p) => !!p.x.ready);
  return pods.length ? sim.rng.pick(pods) : undefined;
}

const EXEC_COMMANDS = [['sh'], ['/bin/bash'], ['sh', '-c', 'env'], ['cat', '/etc/resolv.conf'], ['ls', '-la', '/app'], ['ps', 'aux'], ['curl', '-s', 'localhost:8080/healthz'], ['sh', '-c', 'cat /var/run/secrets/kubernetes.io/serviceaccount/token']];

export const podExec: Scenario = {
  name: 'pod-exec', summary: 'kubectl exec: GET pod, then the exec connection (101, long-running)',
  trigger: 'create pods/exec', weight: 3, fallback: 'pod-create',
  run(sim, user, t0) {
    const pod = runningPod(sim, t0);
    if (!pod) return undefined;
    const a = sim.action(user, t0, { verb: 'create', res: 'pods', sub: 'exec' });
    let t = a.discovery(t0);
    t = a.think(a.call({ at: t, verb: 'get', res: 'pods', ns: pod.ns, name: pod.name }));
    const cmd = sim.rng.pick(EXEC_COMMANDS);
    const interactive = cmd.length === 1;
    const container = (pod.x.containers ?? [pod.body.spec.containers[0].name])[0];
    const q = [...cmd.map((c) => `command=${encodeURIComponent(c)}`), `container=${container}`, ...(interactive ? ['stdin=true'] : []), 'stderr=true', 'stdout=true', ...(interactive ? ['tty=true'] : [])].join('&');
    const duration = interactive ? sim.rng.around(45 * SEC, 0.8, 3 * SEC, 600 * SEC) : sim.rng.around(400 * MS, 0.6);
    a.call({ trigger: true, at: t, verb: 'create', res: 'pods', ns: pod.ns, name: pod.name, sub: 'exec', query: q, code: 101, duration });
    sim.cluster.busy(a.end, pod);
    return a;
  },
};

export const podLogs: Scenario = {
  name: 'pod-logs', summary: 'kubectl logs: GET pod, GET pods/log (streamed when following)',
  trigger: 'get-list pods/log', weight: 4, fallback: 'pod-create',
  run(sim, user, t0) {
    const pod = runningPod(sim, t0);
    if (!pod) return undefined;
    const a = sim.action(user, t0, { verb: 'get', res: 'pods', sub: 'log' });
    let t = a.discovery(t0);
    t = a.think(a.call({ at: t, verb: 'get', res: 'pods', ns: pod.ns, name: pod.name }));
    const follow = sim.rng.chance(0.3);
    const container = (pod.x.containers ?? [pod.body.spec.containers[0].name])[0];
    const q = `container=${container}${follow ? '&follow=true' : ''}${sim.rng.chance(0.4) ? `&tailLines=${sim.rng.pick([20, 50, 100, 200])}` : ''}`;
    a.call({ trigger: true, at: t, verb: 'get', res: 'pods', ns: pod.ns, name: pod.name, sub: 'log', query: q, duration: follow ? sim.rng.around(30 * SEC, 0.8, 2 * SEC, 300 * SEC) : sim.rng.around(20 * MS) });
    sim.cluster.busy(a.end, pod);
    return a;
  },
};

export const POD_SCENARIOS: Scenario[] = [podCreate, podDelete, podExec, podLogs];

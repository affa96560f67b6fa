/**
 * The cluster as it is when the capture starts: nodes, system namespaces and pods, and a few
 * user namespaces with running workloads and services. Built by replaying scenarios silently
 * (state only, no records) in the two hours before the start.
 */
import type { Obj } from './cluster.ts';
import { makeNode } from './nodes.ts';
import { podSpecFrom, podTemplate, type Body } from './objects.ts';
import { namespaceBody, caConfigMap, namespaceCreate } from './scenarios/namespaces.ts';
import { deploymentCreate } from './scenarios/deployments.ts';
import { serviceCreate } from './scenarios/services.ts';
import { podCreate } from './scenarios/pods.ts';
import { configmapCreate, secretCreate, serviceaccountCreate } from './scenarios/config.ts';
import { csrCreate } from './scenarios/csr.ts';
import type { Scenario } from './scenarios/types.ts';
import type { Sim } from './sim.ts';
import { MIN, SEC, rfc3339Sec } from './time.ts';

export function bootstrap(sim: Sim, extra: Scenario[] = []): void {
  const rng = sim.rng.fork('bootstrap');
  const cluster = sim.cluster;
  const longAgo = sim.start - 30 * 86_400 * SEC;
  for (let i = 0; i < sim.opts.nodes; i++) cluster.nodes.push(makeNode(rng, i, longAgo));
  for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage']) {
    const uid = rng.uuid();
    const ns = cluster.add({ res: 'namespaces', name, uid, body: namespaceBody(sim, name, uid, cluster.rv(longAgo), longAgo, 'kube-apiserver'), createdAt: longAgo });
    ns.x.system = name !== 'default';
    const cuid = rng.uuid();
    cluster.add({ res: 'configmaps', ns: name, name: 'kube-root-ca.crt', uid: cuid, body: caConfigMap(sim, name, cuid, cluster.rv(longAgo), longAgo), createdAt: longAgo });
    const suid = rng.uuid();
    cluster.add({ res: 'serviceaccounts', ns: name, name: 'default', uid: suid, body: { kind: 'ServiceAccount', apiVersion: 'v1', metadata: { name: 'default', namespace: name, uid: suid, resourceVersion: cluster.rv(longAgo), creationTimestamp: rfc3339Sec(longAgo) } }, createdAt: longAgo });
  }
  // kube-system workloads the background refers to (probe events, token renewals)
  const sysPod = (name: string, image: string, node: string, owner?: string): Obj => {
    const uid = rng.uuid();
    const tpl = podTemplate({ 'k8s-app': name.replace(/-[a-z0-9]{5,10}(-[a-z0-9]{5})?$/, '') }, [{ name: name.split('-')[0]!, image, port: 8080 }]);
    const spec = podSpecFrom(tpl, `kube-api-access-${rng.suffix(5)}`);
    spec.nodeName = node;
    const body: Body = { kind: 'Pod', apiVersion: 'v1', metadata: { name, namespace: 'kube-system', uid, resourceVersion: cluster.rv(longAgo), creationTimestamp: rfc3339Sec(longAgo), labels: tpl.metadata.labels, ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: owner, name: name.replace(/-[a-z0-9]{5}$/, ''), uid: rng.uuid(), controller: true, blockOwnerDeletion: true }] } : {}) }, spec, status: { phase: 'Running', qosClass: 'Burstable', podIP: `10.244.0.${rng.int(2, 60)}` } };
    const p = cluster.add({ res: 'pods', ns: 'kube-system', name, uid, body, createdAt: longAgo });
    cluster.bind(p, cluster.node(node));
    p.x.ready = true; p.x.readyAt = longAgo; p.x.system = true; p.x.ip = body.status.podIP;
    return p;
  };
  const n0 = cluster.nodes[0]!.name;
  const rsHash = rng.suffix(10);
  sysPod(`coredns-${rsHash}-${rng.suffix(5)}`, 'registry.k8s.io/coredns/coredns:v1.11.1', n0, 'ReplicaSet');
  sysPod(`coredns-${rsHash}-${rng.suffix(5)}`, 'registry.k8s.io/coredns/coredns:v1.11.1', cluster.nodes[1 % cluster.nodes.length]!.name, 'ReplicaSet');
  sysPod(`metrics-server-${rng.suffix(10)}-${rng.suffix(5)}`, 'registry.k8s.io/metrics-server/metrics-server:v0.7.1', n0, 'ReplicaSet');
  for (const n of cluster.nodes) sysPod(`kube-proxy-${rng.suffix(5)}`, 'registry.k8s.io/kube-proxy:v1.30.2', n.name, 'DaemonSet');

  // user namespaces with workloads, replayed silently
  sim.silent = true;
  const admin = sim.users.find((u) => u.admin && u.tool === 'kubectl') ?? sim.users[0]!;
  let t = sim.start - 120 * MIN;
  const play = (s: Scenario) => { s.run(sim, admin, t); t += 2 * MIN; };
  for (let i = 0; i < 3; i++) play(namespaceCreate);
  for (let i = 0; i < 3; i++) play(serviceCreate);
  for (let i = 0; i < 5; i++) play(deploymentCreate);
  play(podCreate);
  play(configmapCreate); play(configmapCreate); play(secretCreate); play(serviceaccountCreate); play(csrCreate);
  for (const s of extra) play(s);
  sim.silent = false;
  sim.actionCount = 0;
}

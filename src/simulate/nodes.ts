/** Node and Lease objects: what kubelets and leader-elected components renew all day long. */
import type { SimNode } from './cluster.ts';
import { kubelet } from './identity.ts';
import { managed, type Body } from './objects.ts';
import type { Rng } from './rng.ts';
import { rfc3339Micro, rfc3339Sec } from './time.ts';

const NODE_IMAGES: [string[], number][] = [
  [['registry.k8s.io/etcd@sha256:44a8e24dcbba3470ee1fee21d5e88d128c936e9b55d4bc51fbef8086f8ed123b', 'registry.k8s.io/etcd:3.5.12-0'], 57236178],
  [['docker.io/library/nginx@sha256:6db391d1c0cfb30588ba0bf72ea999404f2764febf0f1f196acd5867ac7efa7e', 'docker.io/library/nginx:1.25.4'], 70544635],
  [['registry.k8s.io/kube-apiserver:v1.30.2'], 32768393],
  [['registry.k8s.io/kube-controller-manager:v1.30.2'], 31138657],
  [['registry.k8s.io/kube-proxy:v1.30.2'], 29034457],
  [['registry.k8s.io/kube-scheduler:v1.30.2'], 19208660],
  [['docker.io/kindest/kindnetd:v20240513-cd2ac642'], 27755257],
  [['registry.k8s.io/coredns/coredns@sha256:1eeb4c7316bacb1d4c8ead65571cd92dd21e27359f0d4917f1a5822a73b75db1', 'registry.k8s.io/coredns/coredns:v1.11.1'], 18182961],
  [['docker.io/kindest/local-path-provisioner:v20240513-b9bba138'], 17747751],
  [['registry.k8s.io/metrics-server/metrics-server:v0.7.1'], 19412960],
  [['docker.io/library/busybox@sha256:c3839dd800b9eb7603340509769c43e146a74c63dca3045a8e7dc8ee07e53966', 'docker.io/library/busybox:1.36'], 2160406],
  [['registry.k8s.io/pause:3.9'], 321520],
];

export function makeNode(rng: Rng, i: number, created: number): SimNode {
  const a = 1 + (i % 3);
  const b = rng.int(10, 250);
  const ip = `10.0.${a}.${b}`;
  const name = `ip-10-0-${a}-${b}.ec2.internal`;
  const uid = rng.uuid();
  const zone = `us-east-1${'abc'[i % 3]}`;
  const labels = {
    'beta.kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/instance-type': 'm6i.xlarge', 'beta.kubernetes.io/os': 'linux',
    'failure-domain.beta.kubernetes.io/region': 'us-east-1', 'failure-domain.beta.kubernetes.io/zone': zone,
    'kubernetes.io/arch': 'amd64', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux',
    'node.kubernetes.io/instance-type': 'm6i.xlarge', 'topology.kubernetes.io/region': 'us-east-1', 'topology.kubernetes.io/zone': zone,
  };
  const annotations = {
    'kubeadm.alpha.kubernetes.io/cri-socket': 'unix:///run/containerd/containerd.sock',
    'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
  };
  const podCidr = `10.244.${i + 1}.0/24`;
  const status = nodeStatus(name, ip, created, created, rng);
  const body: Body = {
    kind: 'Node', apiVersion: 'v1',
    metadata: {
      name, uid, resourceVersion: '1000', creationTimestamp: rfc3339Sec(created), labels, annotations,
      managedFields: managed([
        { manager: 'kubelet', apiVersion: 'v1', time: created, fields: { metadata: { annotations: { 'kubeadm.alpha.kubernetes.io/cri-socket': 1, 'volumes.kubernetes.io/controller-managed-attach-detach': 1 }, labels } } },
        { manager: 'kube-controller-manager', apiVersion: 'v1', time: created, fields: { metadata: { annotations: { 'node.alpha.kubernetes.io/ttl': 1 } }, spec: { podCIDR: 1, podCIDRs: [podCidr] } } },
        { manager: 'kubelet', apiVersion: 'v1', time: created, fields: { status }, subresource: 'status' },
      ]),
    },
    spec: { podCIDR: podCidr, podCIDRs: [podCidr], providerID: `aws:///${zone}/i-0${rng.hex(16)}` },
    status,
  };
  return { name, ip, uid, kubelet: kubelet(name, ip), podCidr, nextPodIp: rng.int(0, 200), images: new Set(['nginx:1.25.4', 'busybox:1.36']), pods: 0, body, leaseUid: rng.uuid() };
}

export function nodeConditions(hb: number, transition: number): Body[] {
  const c = (type: string, status: string, reason: string, message: string) => ({ type, status, lastHeartbeatTime: rfc3339Sec(hb), lastTransitionTime: rfc3339Sec(transition), reason, message });
  return [
    c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    c('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
  ];
}

function nodeStatus(name: string, ip: string, hb: number, transition: number, rng: Rng): Body {
  return {
    capacity: { cpu: '4', 'ephemeral-storage': '83873772Ki', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '16110180Ki', pods: '110' },
    allocatable: { cpu: '4', 'ephemeral-storage': '77299011866', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '16007780Ki', pods: '110' },
    conditions: nodeConditions(hb, transition),
    addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }, { type: 'InternalDNS', address: name }],
    daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
    nodeInfo: {
      machineID: rng.hex(32), systemUUID: rng.uuid().toUpperCase().replace(/^(.{8})/, 'EC2$1').slice(0, 36), bootID: rng.uuid(),
      kernelVersion: '6.1.90-99.173.amzn2023.x86_64', osImage: 'Amazon Linux 2023.4.20240528', containerRuntimeVersion: 'containerd://1.7.11',
      kubeletVersion: 'v1.30.2', kubeProxyVersion: 'v1.30.2', operatingSystem: 'linux', architecture: 'amd64',
    },
    images: NODE_IMAGES.map(([names, sizeBytes]) => ({ names, sizeBytes })),
  };
}

/** the node's heartbeat Lease in kube-node-lease */
export function nodeLease(n: SimNode, rv: string, renew: number, created: number): Body {
  const owner = [{ apiVersion: 'v1', kind: 'Node', name: n.name, uid: n.uid }];
  return {
    kind: 'Lease', apiVersion: 'coordination.k8s.io/v1',
    metadata: {
      name: n.name, namespace: 'kube-node-lease', uid: n.leaseUid, resourceVersion: rv, creationTimestamp: rfc3339Sec(created), ownerReferences: owner,
      managedFields: managed([{ manager: 'kubelet', apiVersion: 'coordination.k8s.io/v1', time: renew, fields: { metadata: { ownerReferences: owner }, spec: { holderIdentity: 1, leaseDurationSeconds: 1, renewTime: 1 } } }]),
    },
    spec: { holderIdentity: n.name, leaseDurationSeconds: 40, renewTime: rfc3339Micro(renew) },
  };
}

/** a leader-election Lease (kube-controller-manager, kube-scheduler) */
export function leaderLease(name: string, uid: string, holder: string, rv: string, renew: number, acquired: number, created: number, manager: string): Body {
  return {
    kind: 'Lease', apiVersion: 'coordination.k8s.io/v1',
    metadata: {
      name, namespace: 'kube-system', uid, resourceVersion: rv, creationTimestamp: rfc3339Sec(created),
      managedFields: managed([{ manager, apiVersion: 'coordination.k8s.io/v1', time: renew, fields: { spec: { acquireTime: 1, holderIdentity: 1, leaseDurationSeconds: 1, leaseTransitions: 1, renewTime: 1 } } }]),
    },
    spec: { holderIdentity: holder, leaseDurationSeconds: 15, acquireTime: rfc3339Micro(acquired), renewTime: rfc3339Micro(renew), leaseTransitions: 2 },
  };
}

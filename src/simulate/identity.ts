/**
 * Who talks to the apiserver: people and CI (kubectl, helm), controllers of
 * kube-controller-manager, the scheduler, kubelets, and add-ons, each with the username,
 * groups, userAgent, source IP and authorization reason the apiserver records for them.
 */
import type { Rng } from './rng.ts';

export const K8S_VERSION = 'v1.30.2';
export const K8S_COMMIT = '39683505';
const PLATFORM = 'linux/amd64';
export const CONTROL_PLANE_IP = '10.0.0.10';

export type ActorKind = 'human' | 'ci' | 'controller' | 'system' | 'node' | 'addon';

export interface Actor {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
  userAgent: string;
  ip: string;
  /** authorization.k8s.io/reason for allowed requests */
  reason: string;
  kind: ActorKind;
  /** humans/CI: may change cluster-scoped objects (RBAC, namespaces, CRDs, CSRs) */
  admin?: boolean;
  /** the tool a human/CI actor drives: kubectl or helm */
  tool?: 'kubectl' | 'helm';
}

const HUMANS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'niaj', 'olivia', 'peggy', 'rupert', 'sybil', 'trent', 'victor', 'walter', 'yara'];
const KUBECTL_UAS = [
  `kubectl/${K8S_VERSION} (${PLATFORM}) kubernetes/${K8S_COMMIT}`,
  `kubectl/${K8S_VERSION} (darwin/arm64) kubernetes/${K8S_COMMIT}`,
  'kubectl/v1.29.4 (darwin/arm64) kubernetes/55cf2f4',
  'kubectl/v1.30.1 (windows/amd64) kubernetes/6911225',
];
export const KUBECTL_DEFAULT_UA = `kubectl/${K8S_VERSION} (${PLATFORM}) kubernetes/${K8S_COMMIT}`;
/** Helm 3 sets its user agent to "Helm/<version without v>" and nothing else */
export const HELM_UA = 'Helm/3.14.0';

/**
 * The acting people and CI robots. User 0 is the kubeadm admin (system:masters); the others
 * are OIDC users, every third one a platform admin and the rest developers bound to `edit`;
 * when there are three or more users the last one is a CI service account that drives helm.
 */
export function makeUsers(n: number, rng: Rng): Actor[] {
  const users: Actor[] = [];
  for (let i = 0; i < n; i++) {
    if (i === 0) {
      users.push({
        username: 'kubernetes-admin', groups: ['kubeadm:cluster-admins', 'system:authenticated'],
        userAgent: KUBECTL_UAS[0]!, ip: '10.8.0.2', kind: 'human', admin: true, tool: 'kubectl',
        reason: 'RBAC: allowed by ClusterRoleBinding "kubeadm:cluster-admins" of ClusterRole "cluster-admin" to Group "kubeadm:cluster-admins"',
      });
      continue;
    }
    if (n >= 3 && i === n - 1) {
      users.push({
        username: 'system:serviceaccount:ci:deployer', uid: rng.uuid(),
        groups: ['system:serviceaccounts', 'system:serviceaccounts:ci', 'system:authenticated'],
        extra: { 'authentication.kubernetes.io/credential-id': [`JTI=${rng.uuid()}`] },
        userAgent: HELM_UA, ip: `10.8.1.${rng.int(10, 250)}`, kind: 'ci', admin: true, tool: 'helm',
        reason: 'RBAC: allowed by ClusterRoleBinding "ci-deployer" of ClusterRole "cluster-admin" to ServiceAccount "deployer/ci"',
      });
      continue;
    }
    const base = HUMANS[(i - 1) % HUMANS.length]!;
    const name = i - 1 < HUMANS.length ? base : `${base}${Math.floor((i - 1) / HUMANS.length) + 1}`;
    const admin = i % 3 === 1;
    const group = admin ? 'oidc:platform' : 'oidc:developers';
    users.push({
      username: `oidc:${name}@example.com`, groups: [group, 'system:authenticated'],
      userAgent: rng.pick(KUBECTL_UAS), ip: `10.8.0.${rng.int(3, 250)}`, kind: 'human', admin, tool: 'kubectl',
      reason: admin
        ? 'RBAC: allowed by ClusterRoleBinding "platform-admins" of ClusterRole "cluster-admin" to Group "oidc:platform"'
        : 'RBAC: allowed by ClusterRoleBinding "developers-edit" of ClusterRole "edit" to Group "oidc:developers"',
    });
  }
  return users;
}

/** A controller running inside kube-controller-manager with its own service account. */
export function controller(name: string, uid: string): Actor {
  return {
    username: `system:serviceaccount:kube-system:${name}`, uid,
    groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
    userAgent: `kube-controller-manager/${K8S_VERSION} (${PLATFORM}) kubernetes/${K8S_COMMIT}/system:serviceaccount:kube-system:${name}`,
    ip: CONTROL_PLANE_IP, kind: 'controller',
    reason: `RBAC: allowed by ClusterRoleBinding "system:controller:${name}" of ClusterRole "system:controller:${name}" to ServiceAccount "${name}/kube-system"`,
  };
}

export function kubelet(node: string, ip: string): Actor {
  return {
    username: `system:node:${node}`, groups: ['system:nodes', 'system:authenticated'],
    userAgent: `kubelet/${K8S_VERSION} (${PLATFORM}) kubernetes/${K8S_COMMIT}`, ip, kind: 'node', reason: '',
  };
}

export const CONTROLLER_NAMES = [
  'deployment-controller', 'replicaset-controller', 'statefulset-controller', 'daemon-set-controller',
  'job-controller', 'cronjob-controller', 'endpoint-controller', 'endpointslice-controller',
  'endpointslicemirroring-controller', 'generic-garbage-collector', 'namespace-controller',
  'resourcequota-controller', 'service-account-controller', 'root-ca-cert-publisher',
  'persistent-volume-binder', 'attachdetach-controller', 'certificate-controller', 'node-controller',
  'pod-garbage-collector', 'horizontal-pod-autoscaler', 'ttl-after-finished-controller', 'disruption-controller',
  'pvc-protection-controller', 'pv-protection-controller', 'clusterrole-aggregation-controller',
  'ephemeral-volume-controller', 'legacy-service-account-token-cleaner', 'ttl-controller',
] as const;
export type ControllerName = (typeof CONTROLLER_NAMES)[number];

export interface SystemActors {
  ctrl: Record<ControllerName, Actor>;
  kcm: Actor;
  scheduler: Actor;
  apiserver: Actor;
  kubeProxy: (node: string, ip: string) => Actor;
  coredns: Actor;
  metricsServer: Actor;
  localPath: Actor;
  anonymous: (ip: string) => Actor;
}

export function makeSystemActors(rng: Rng): SystemActors {
  const ctrl = {} as Record<ControllerName, Actor>;
  for (const n of CONTROLLER_NAMES) ctrl[n] = controller(n, rng.uuid());
  const proxyUid = rng.uuid();
  return {
    ctrl,
    kcm: {
      username: 'system:kube-controller-manager', groups: ['system:authenticated'],
      userAgent: `kube-controller-manager/${K8S_VERSION} (${PLATFORM}) kubernetes/${K8S_COMMIT}/leader-election`,
      ip: CONTROL_PLANE_IP, kind: 'system',
      reason: 'RBAC: allowed by ClusterRoleBinding "system:kube-controller-manager" of ClusterRole "system:kube-controller-manager" to User "system:kube-controller-manager"',
    },
    scheduler: {
      username: 'system:kube-scheduler', groups: ['system:authenticated'],
      userAgent: `kube-scheduler/${K8S_VERSION} (${PLATFORM}) kubernetes/${K8S_COMMIT}/scheduler`,
      ip: CONTROL_PLANE_IP, kind: 'system',
      reason: 'RBAC: allowed by ClusterRoleBinding "system:kube-scheduler" of ClusterRole "system:kube-scheduler" to User "system:kube-scheduler"',
    },
    apiserver: {
      username: 'system:apiserver', uid: rng.uuid(), groups: ['system:authenticated', 'system:masters'],
      userAgent: `kube-apiserver/${K8S_VERSION} (${PLATFORM}) kubernetes/${K8S_COMMIT}`, ip: '::1', kind: 'system', reason: '',
    },
    kubeProxy: (_node, ip) => ({
      username: 'system:serviceaccount:kube-system:kube-proxy', uid: proxyUid,
      groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      userAgent: `kube-proxy/${K8S_VERSION} (${PLATFORM}) kubernetes/${K8S_COMMIT}`, ip, kind: 'addon',
      reason: 'RBAC: allowed by ClusterRoleBinding "kubeadm:node-proxier" of ClusterRole "system:node-proxier" to ServiceAccount "kube-proxy/kube-system"',
    }),
    coredns: {
      username: 'system:serviceaccount:kube-system:coredns', uid: rng.uuid(),
      groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      userAgent: 'coredns/v0.0.0 (linux/amd64) kubernetes/$Format', ip: '10.244.0.3', kind: 'addon',
      reason: 'RBAC: allowed by ClusterRoleBinding "system:coredns" of ClusterRole "system:coredns" to ServiceAccount "coredns/kube-system"',
    },
    metricsServer: {
      username: 'system:serviceaccount:kube-system:metrics-server', uid: rng.uuid(),
      groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      userAgent: 'metrics-server/v0.7.1 (linux/amd64) kubernetes/$Format', ip: '10.244.0.5', kind: 'addon',
      reason: 'RBAC: allowed by ClusterRoleBinding "system:metrics-server" of ClusterRole "system:metrics-server" to ServiceAccount "metrics-server/kube-system"',
    },
    localPath: {
      username: 'system:serviceaccount:local-path-storage:local-path-provisioner-service-account', uid: rng.uuid(),
      groups: ['system:serviceaccounts', 'system:serviceaccounts:local-path-storage', 'system:authenticated'],
      userAgent: 'local-path-provisioner/v0.0.0 (linux/amd64) kubernetes/$Format', ip: '10.244.0.4', kind: 'addon',
      reason: 'RBAC: allowed by ClusterRoleBinding "local-path-provisioner-bind" of ClusterRole "local-path-provisioner-role" to ServiceAccount "local-path-provisioner-service-account/local-path-storage"',
    },
    anonymous: (ip) => ({
      username: 'system:anonymous', groups: ['system:unauthenticated'], userAgent: 'kube-probe/1.30', ip, kind: 'system',
      reason: 'RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"',
    }),
  };
}

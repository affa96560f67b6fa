/**
 * Helm 3 releases, as Helm sends them (user agent `Helm/3.x.y`). `helm install` installs the
 * chart's CRDs first (409 when they exist; waits until they are established), runs its API
 * discovery (legacy discovery: `/api`, `/apis` and every `/apis/<group>/<version>`, custom
 * groups included, again after CRDs and as its REST mapper refreshes), lists the release
 * history (`labelSelector=name=<rel>,owner=helm`), checks every manifest object does not
 * exist (GET → 404), creates the namespace with --create-namespace (409 when it exists),
 * records the release Secret `sh.helm.release.v1.<rel>.v1` (pending-install), runs
 * pre-install hooks (a hook Job: created, watched until done, deleted), creates the objects
 * in Helm's install order — also cluster-scoped RBAC, webhook configurations and objects in
 * kube-system — runs post-install hooks, with --wait polls the workloads every 2 s, then
 * marks the release deployed. `helm uninstall` marks the release uninstalling, deletes the
 * objects in reverse order and removes the release Secret (CRDs stay, as in Helm).
 *
 * Trigger choice: the first mutating request of either command, which is always on the
 * release Secret — POST sh.helm.release.v1.<name>.v1 for install ("create secrets"), the
 * update to status=uninstalling for uninstall ("patch-update secrets"). Everything the
 * command sends and everything its objects cause is in that context.
 */
import type { Obj } from '../cluster.ts';
import { createObject, updateObject, deleteObject } from '../kube.ts';
import { podTemplate, snap, type Body } from '../objects.ts';
import { allResources, registerResource, resourceInfo } from '../resources.ts';
import type { Act, Sim } from '../sim.ts';
import { MS, SEC, rfc3339Sec } from '../time.ts';
import { jobRun, jobSpec } from './batch.ts';
import { deploymentRollout, garbageCollect } from '../workloads.ts';
import { idle, pickNamespace, uniqueName } from './common.ts';
import { serviceEndpoints, serviceBodies } from './services.ts';
import { stsScaleUp } from './stateful.ts';
import type { Scenario } from './types.ts';

/** Helm's kind install order (pkg/releaseutil InstallOrder), for the kinds the charts hold */
const INSTALL_ORDER = [
  'networking.k8s.io/networkpolicies', 'policy/poddisruptionbudgets', 'serviceaccounts', 'secrets', 'configmaps',
  'rbac.authorization.k8s.io/clusterroles', 'rbac.authorization.k8s.io/clusterrolebindings',
  'rbac.authorization.k8s.io/roles', 'rbac.authorization.k8s.io/rolebindings', 'services', 'apps/deployments',
  'autoscaling/horizontalpodautoscalers', 'apps/statefulsets', 'admissionregistration.k8s.io/validatingwebhookconfigurations',
];

/** How Helm behaves, in one place. */
export const HELM = {
  /** share of installs with --create-namespace (a POST of the namespace, 409 when it exists) */
  createNamespace: 0.5,
  /** share of installs with --wait, and its poll period */
  wait: 0.5,
  pollEvery: 2 * SEC,
  /** chance that a chart object makes the REST mapper refresh (a full discovery sweep) */
  sweepPerObject: 0.5,
  /** polls of a new CRD until it is established */
  crdPollEvery: 300 * MS,
};

const CRD = 'apiextensions.k8s.io/customresourcedefinitions';
const WEBHOOKS = 'admissionregistration.k8s.io/validatingwebhookconfigurations';

/** `ns`: where the object goes when not the release namespace (kube-system); cluster-scoped kinds ignore it */
interface Manifest { res: string; req: Body; ns?: string }

interface CrdDef { group: string; version: string; plural: string; kind: string; scope: 'Namespaced' | 'Cluster' }

interface Chart {
  chart: string; version: string; appVersion: string;
  /** the chart's crds/ directory */
  crds?: CrdDef[];
  build(rel: string, ns: string, sim: Sim): Manifest[];
  /** hook Jobs (and their ServiceAccount) run before and after the objects */
  hooks?: (rel: string, ns: string) => { pre: HookJob[]; post: HookJob[] };
}

interface HookJob { name: string; image: string; args: string[]; serviceAccount: string }

function helmMeta(rel: string, ns: string, c: Chart, name: string, component?: string): Body {
  return {
    name, namespace: ns, creationTimestamp: null,
    labels: { 'app.kubernetes.io/instance': rel, 'app.kubernetes.io/managed-by': 'Helm', 'app.kubernetes.io/name': c.chart, 'app.kubernetes.io/version': c.appVersion, 'helm.sh/chart': `${c.chart}-${c.version}`, ...(component ? { 'app.kubernetes.io/component': component } : {}) },
    annotations: { 'meta.helm.sh/release-name': rel, 'meta.helm.sh/release-namespace': ns },
  };
}

function sel(rel: string, c: Chart, component?: string): Record<string, string> {
  return { 'app.kubernetes.io/instance': rel, 'app.kubernetes.io/name': c.chart, ...(component ? { 'app.kubernetes.io/component': component } : {}) };
}

const CHARTS: Chart[] = [
  {
    chart: 'podinfo', version: '6.6.2', appVersion: '6.6.2',
    build(rel, ns, sim) {
      const c = this;
      const labels = sel(rel, c);
      const out: Manifest[] = [
        { res: 'services', req: { apiVersion: 'v1', kind: 'Service', metadata: helmMeta(rel, ns, c, rel), spec: { type: 'ClusterIP', ports: [{ port: 9898, targetPort: 'http', protocol: 'TCP', name: 'http' }, { port: 9999, targetPort: 'grpc', protocol: 'TCP', name: 'grpc' }], selector: labels } } },
        { res: 'apps/deployments', req: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: helmMeta(rel, ns, c, rel), spec: { replicas: sim.rng.int(1, 2), strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } }, selector: { matchLabels: labels }, template: { ...podTemplate(labels, [{ name: 'podinfo', image: 'ghcr.io/stefanprodan/podinfo:6.6.2', port: 9898, command: ['./podinfo', '--port=9898', '--cert-path=/data/cert', '--port-metrics=9797', '--grpc-port=9999', '--grpc-service-name=podinfo', '--level=info', '--random-delay=false', '--random-error=false'], env: { PODINFO_UI_COLOR: '#34577c' }, resources: { limits: { memory: '256Mi' }, requests: { cpu: '1m', memory: '16Mi' } } }]), metadata: { creationTimestamp: null, labels, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9797' } } } } } },
      ];
      if (sim.rng.chance(0.5)) out.push({ res: 'autoscaling/horizontalpodautoscalers', req: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: helmMeta(rel, ns, c, rel), spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: rel }, minReplicas: 1, maxReplicas: 4, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 99 } } }] } } });
      return out;
    },
  },
  {
    chart: 'redis', version: '19.0.2', appVersion: '7.2.4',
    build(rel, ns) {
      const c = this;
      const master = sel(rel, c, 'master');
      const conf = 'appendonly yes\nsave ""\nmaxmemory-policy noeviction\n';
      return [
        { res: 'networking.k8s.io/networkpolicies', req: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: helmMeta(rel, ns, c, rel), spec: { podSelector: { matchLabels: sel(rel, c) }, policyTypes: ['Ingress', 'Egress'], egress: [{}], ingress: [{ ports: [{ port: 6379 }] }] } } },
        { res: 'serviceaccounts', req: { apiVersion: 'v1', kind: 'ServiceAccount', automountServiceAccountToken: false, metadata: helmMeta(rel, ns, c, `${rel}-master`) } },
        { res: 'secrets', req: { apiVersion: 'v1', kind: 'Secret', metadata: helmMeta(rel, ns, c, rel), type: 'Opaque', data: { 'redis-password': Buffer.from('s3cr3t-redis').toString('base64') } } },
        { res: 'configmaps', req: { apiVersion: 'v1', kind: 'ConfigMap', metadata: helmMeta(rel, ns, c, `${rel}-configuration`), data: { 'redis.conf': conf, 'master.conf': 'dir /data\nrename-command FLUSHDB ""\nrename-command FLUSHALL ""\n', 'replica.conf': 'dir /data\nrename-command FLUSHDB ""\n' } } },
        { res: 'configmaps', req: { apiVersion: 'v1', kind: 'ConfigMap', metadata: helmMeta(rel, ns, c, `${rel}-health`), data: { 'ping_readiness_local.sh': '#!/bin/bash\n[[ -f $REDIS_PASSWORD_FILE ]] && export REDIS_PASSWORD="$(< "${REDIS_PASSWORD_FILE}")"\nresponse=$(timeout -s 15 $1 redis-cli -h localhost -p $REDIS_PORT ping)\nif [ "$response" != "PONG" ]; then echo "$response"; exit 1; fi\n', 'ping_liveness_local.sh': '#!/bin/bash\nresponse=$(timeout -s 15 $1 redis-cli -h localhost -p $REDIS_PORT ping)\nresponsefirstword=$(echo $response | head -n1 | awk \'{print $1;}\')\nif [ "$response" != "PONG" ] && [ "$responsefirstword" != "LOADING" ]; then echo "$response"; exit 1; fi\n' } } },
        { res: 'services', req: { apiVersion: 'v1', kind: 'Service', metadata: helmMeta(rel, ns, c, `${rel}-headless`), spec: { type: 'ClusterIP', clusterIP: 'None', ports: [{ name: 'tcp-redis', port: 6379, targetPort: 'redis' }], selector: sel(rel, c) } } },
        { res: 'services', req: { apiVersion: 'v1', kind: 'Service', metadata: helmMeta(rel, ns, c, `${rel}-master`, 'master'), spec: { type: 'ClusterIP', internalTrafficPolicy: 'Cluster', sessionAffinity: 'None', ports: [{ name: 'tcp-redis', port: 6379, targetPort: 'redis' }], selector: master } } },
        { res: 'apps/statefulsets', req: { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: helmMeta(rel, ns, c, `${rel}-master`, 'master'), spec: { replicas: 1, selector: { matchLabels: master }, serviceName: `${rel}-headless`, updateStrategy: { type: 'RollingUpdate' }, template: podTemplate(master, [{ name: 'redis', image: 'docker.io/bitnami/redis:7.2.4-debian-12-r9', port: 6379, command: ['/bin/bash'], args: ['-c', '/opt/bitnami/scripts/start-scripts/start-master.sh'], env: { BITNAMI_DEBUG: 'false', REDIS_REPLICATION_MODE: 'master', ALLOW_EMPTY_PASSWORD: 'no', REDIS_PASSWORD_FILE: '/opt/bitnami/redis/secrets/redis-password', REDIS_TLS_ENABLED: 'no', REDIS_PORT: '6379' }, volumeMounts: [{ name: 'redis-data', mountPath: '/data' }, { name: 'health', mountPath: '/health' }, { name: 'config', mountPath: '/opt/bitnami/redis/mounted-etc' }] }], { serviceAccountName: `${rel}-master`, volumes: [{ name: 'health', configMap: { name: `${rel}-health`, defaultMode: 493 } }, { name: 'config', configMap: { name: `${rel}-configuration` } }, { name: 'redis-password', secret: { secretName: rel, items: [{ key: 'redis-password', path: 'redis-password' }] } }] }), volumeClaimTemplates: [{ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'redis-data', labels: sel(rel, c, 'master') }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '8Gi' } }, storageClassName: 'standard', volumeMode: 'Filesystem' } }] } } },
      ];
    },
  },
  {
    chart: 'nginx', version: '16.0.6', appVersion: '1.25.4',
    build(rel, ns, sim) {
      const c = this;
      const labels = sel(rel, c);
      return [
        { res: 'serviceaccounts', req: { apiVersion: 'v1', kind: 'ServiceAccount', automountServiceAccountToken: false, metadata: helmMeta(rel, ns, c, rel) } },
        { res: 'configmaps', req: { apiVersion: 'v1', kind: 'ConfigMap', metadata: helmMeta(rel, ns, c, `${rel}-server-block`), data: { 'server-blocks-paths.conf': 'include  "/opt/bitnami/nginx/conf/server_blocks/ldap/*.conf";\ninclude  "/opt/bitnami/nginx/conf/server_blocks/common/*.conf";\n' } } },
        { res: 'services', req: { apiVersion: 'v1', kind: 'Service', metadata: helmMeta(rel, ns, c, rel), spec: { type: 'ClusterIP', sessionAffinity: 'None', ports: [{ name: 'http', port: 80, targetPort: 'http' }], selector: labels } } },
        { res: 'apps/deployments', req: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: helmMeta(rel, ns, c, rel), spec: { replicas: sim.rng.int(1, 3), revisionHistoryLimit: 10, strategy: { rollingUpdate: {}, type: 'RollingUpdate' }, selector: { matchLabels: labels }, template: podTemplate(labels, [{ name: 'nginx', image: 'docker.io/bitnami/nginx:1.25.4-debian-12-r3', port: 8080, env: { BITNAMI_DEBUG: 'false', NGINX_HTTP_PORT_NUMBER: '8080' }, securityContext: { runAsNonRoot: true, runAsUser: 1001, readOnlyRootFilesystem: false, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }], { serviceAccountName: rel }) } } },
      ];
    },
  },
  {
    chart: 'kube-prometheus-stack', version: '58.2.1', appVersion: 'v0.73.2',
    crds: [
      { group: 'monitoring.coreos.com', version: 'v1', plural: 'servicemonitors', kind: 'ServiceMonitor', scope: 'Namespaced' },
      { group: 'monitoring.coreos.com', version: 'v1', plural: 'podmonitors', kind: 'PodMonitor', scope: 'Namespaced' },
      { group: 'monitoring.coreos.com', version: 'v1', plural: 'prometheusrules', kind: 'PrometheusRule', scope: 'Namespaced' },
      { group: 'monitoring.coreos.com', version: 'v1alpha1', plural: 'alertmanagerconfigs', kind: 'AlertmanagerConfig', scope: 'Namespaced' },
    ],
    build(rel, ns, sim) {
      const c = this;
      const op = `${rel}-operator`;
      const labels = sel(rel, c, 'operator');
      const cluster = (name: string) => { const m = helmMeta(rel, ns, c, name); delete m.namespace; return m; };
      return [
        { res: 'serviceaccounts', req: { apiVersion: 'v1', kind: 'ServiceAccount', automountServiceAccountToken: true, metadata: helmMeta(rel, ns, c, op) } },
        { res: 'rbac.authorization.k8s.io/clusterroles', req: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: cluster(op), rules: [{ apiGroups: ['monitoring.coreos.com'], resources: ['alertmanagers', 'prometheuses', 'servicemonitors', 'podmonitors', 'prometheusrules', 'alertmanagerconfigs'], verbs: ['*'] }, { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['*'] }, { apiGroups: [''], resources: ['configmaps', 'secrets'], verbs: ['*'] }, { apiGroups: [''], resources: ['services', 'services/finalizers', 'endpoints'], verbs: ['get', 'create', 'update', 'delete'] }, { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] }] } },
        { res: 'rbac.authorization.k8s.io/clusterrolebindings', req: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: cluster(op), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: op }, subjects: [{ kind: 'ServiceAccount', name: op, namespace: ns }] } },
        { res: 'services', req: { apiVersion: 'v1', kind: 'Service', metadata: helmMeta(rel, ns, c, op), spec: { type: 'ClusterIP', ports: [{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }], selector: labels } } },
        // scrape target for the kubelets, in kube-system: the operator keeps its endpoints
        { res: 'services', ns: 'kube-system', req: { apiVersion: 'v1', kind: 'Service', metadata: helmMeta(rel, 'kube-system', c, `${rel}-kubelet`), spec: { type: 'ClusterIP', clusterIP: 'None', ports: [{ name: 'https-metrics', port: 10250, protocol: 'TCP' }] } } },
        { res: 'apps/deployments', req: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: helmMeta(rel, ns, c, op), spec: { replicas: 1, revisionHistoryLimit: 10, selector: { matchLabels: labels }, template: podTemplate(labels, [{ name: 'kube-prometheus-stack', image: 'quay.io/prometheus-operator/prometheus-operator:v0.73.2', port: 10250, args: ['--kubelet-service=kube-system/' + `${rel}-kubelet`, '--localhost=127.0.0.1', '--prometheus-config-reloader=quay.io/prometheus-operator/prometheus-config-reloader:v0.73.2', '--web.enable-tls=true', '--web.cert-file=/cert/cert', '--web.key-file=/cert/key', '--web.listen-address=:10250'] }], { serviceAccountName: op }) } } },
        { res: WEBHOOKS, req: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: cluster(`${rel}-admission`), webhooks: [{ name: 'prometheusrulevalidate.monitoring.coreos.com', failurePolicy: sim.rng.pick(['Ignore', 'Fail']), rules: [{ apiGroups: ['monitoring.coreos.com'], apiVersions: ['*'], resources: ['prometheusrules'], operations: ['CREATE', 'UPDATE'] }], clientConfig: { service: { namespace: ns, name: op, path: '/admission-prometheusrules/validate' } }, admissionReviewVersions: ['v1', 'v1beta1'], sideEffects: 'None' }] } },
      ];
    },
    hooks(rel, ns) {
      const sa = `${rel}-admission`;
      const image = 'registry.k8s.io/ingress-nginx/kube-webhook-certgen:v20221220-controller-v1.5.1-58-g787ea74b6';
      return {
        pre: [{ name: `${rel}-admission-create`, image, serviceAccount: sa, args: ['create', `--host=${rel}-operator,${rel}-operator.${ns}.svc`, `--namespace=${ns}`, `--secret-name=${rel}-admission`] }],
        post: [{ name: `${rel}-admission-patch`, image, serviceAccount: sa, args: ['patch', `--webhook-name=${rel}-admission`, `--namespace=${ns}`, '--secret-name=' + `${rel}-admission`, '--patch-failure-policy='] }],
      };
    },
  },
];

/** The API groups the apiserver serves before any CRD (legacy discovery asks each of them) */
const BUILTIN_GROUP_VERSIONS: readonly string[] = [...new Set(allResources().filter((r) => r.group).map((r) => `/apis/${r.group}/${r.version}`))].sort();

/**
 * Helm's client discovery: `/api`, `/apis`, then every group version in parallel, CRD groups
 * of this cluster included. Background (discovery) traffic, not part of the release.
 */
function discoverySweep(a: Act, t: number): number {
  if (a.sim.silent || !a.sim.backgroundEnabled) return t;
  const rng = a.rng;
  let end = a.sim.bg('discovery', { actor: a.user, at: t, verb: 'get', path: '/api', latency: rng.around(1.2 * MS) }, rng);
  end = a.sim.bg('discovery', { actor: a.user, at: end + Math.round(rng.around(0.5 * MS)), verb: 'get', path: '/apis', latency: rng.around(1.5 * MS) }, rng);
  const custom = a.cluster.list(CRD).map((c) => `/apis/${c.body.spec.group}/${c.body.spec.versions?.[0]?.name ?? 'v1'}`);
  const paths = ['/api/v1', ...new Set([...BUILTIN_GROUP_VERSIONS, ...custom.sort()])];
  let last = end;
  for (const path of paths) last = Math.max(last, a.sim.bg('discovery', { actor: a.user, at: end + Math.round(rng.around(1.5 * MS, 0.6)), verb: 'get', path, latency: rng.around(1.4 * MS, 0.5) }, rng));
  return last;
}

/** The chart's CRDs: created (409 when present), then polled until established. */
function installCrds(a: Act, t: number, defs: CrdDef[]): number {
  const rng = a.rng;
  const api = a.sys.apiserver;
  const waitFor: Obj[] = [];
  for (const d of defs) {
    const name = `${d.plural}.${d.group}`;
    const req: Body = {
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition',
      metadata: { name, creationTimestamp: null, annotations: { 'controller-gen.kubebuilder.io/version': 'v0.13.0', 'operator.prometheus.io/version': '0.73.2' } },
      spec: { group: d.group, names: { plural: d.plural, singular: d.kind.toLowerCase(), kind: d.kind, listKind: `${d.kind}List`, categories: ['prometheus-operator'] }, scope: d.scope, versions: [{ name: d.version, served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }] },
      status: { conditions: null, acceptedNames: { plural: '', kind: '' }, storedVersions: null },
    };
    if (a.cluster.exists(CRD, undefined, name)) {
      t = a.think(a.call({ at: t, verb: 'create', res: CRD, req, code: 409 }), 2 * MS);
      continue;
    }
    const crd = createObject(a, { at: t, res: CRD, req, manager: 'helm', defaults: (b) => { b.spec.conversion = { strategy: 'None' }; b.status = { acceptedNames: { plural: '', kind: '' }, storedVersions: [d.version] }; } });
    registerResource({ key: `${d.group}/${d.plural}`, group: d.group, version: d.version, resource: d.plural, kind: d.kind, namespaced: d.scope === 'Namespaced' });
    const cond = (type: string, reason: string, message: string, at: number) => ({ type, status: 'True', lastTransitionTime: rfc3339Sec(at), reason, message });
    let tt = updateObject(a, { actor: api, at: crd.createdAt + Math.round(rng.around(3 * MS)), obj: crd, sub: 'status', manager: 'kube-apiserver', mutate: (b) => { b.status = { ...b.status, conditions: [cond('NamesAccepted', 'NoConflicts', 'no conflicts found', crd.createdAt)], acceptedNames: b.spec.names }; } });
    tt = updateObject(a, { actor: api, at: tt + Math.round(rng.around(4 * MS)), obj: crd, sub: 'status', manager: 'kube-apiserver', conflictP: 0.3, mutate: (b) => { b.status.conditions = [...b.status.conditions, cond('Established', 'InitialNamesAccepted', 'the initial names have been accepted', tt)]; } });
    crd.x.establishedAt = tt;
    waitFor.push(crd);
    t = a.think(crd.createdAt, 3 * MS);
  }
  // wait until every new CRD is established
  for (const crd of waitFor) {
    for (;;) {
      t = a.call({ at: t, verb: 'get', res: CRD, name: crd.name });
      if (t >= crd.x.establishedAt) break;
      t += HELM.crdPollEvery;
    }
  }
  return t;
}

/** A hook Job: an old one deleted first (before-hook-creation), created, watched until it is done, deleted (hook-succeeded). */
function runHook(a: Act, t: number, rel: string, ns: string, chart: Chart, h: HookJob, kind: 'pre-install' | 'post-install'): number {
  const rng = a.rng;
  t = a.think(a.call({ at: t, verb: 'delete', res: 'batch/jobs', ns, name: h.name, code: 404 }), 3 * MS);
  const labels = { ...sel(rel, chart, 'prometheus-operator-webhook') };
  const tpl = podTemplate(labels, [{ name: h.name.endsWith('create') ? 'create' : 'patch', image: h.image, args: h.args }], { restartPolicy: 'OnFailure', serviceAccountName: h.serviceAccount });
  const meta = helmMeta(rel, ns, chart, h.name);
  meta.annotations = { ...meta.annotations, 'helm.sh/hook': kind, 'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded' };
  const req: Body = { apiVersion: 'batch/v1', kind: 'Job', metadata: meta, spec: { template: tpl }, status: {} };
  const job = createObject(a, {
    at: t, res: 'batch/jobs', ns, req, manager: 'helm', status: {},
    defaults: (b) => { b.spec = jobSpec(b.metadata.uid, h.name, tpl); },
  });
  const done = jobRun(a, job.createdAt, job);
  // helm watches the job until it completes
  const tw = job.createdAt + Math.round(rng.around(4 * MS));
  a.call({ at: tw, verb: 'watch', res: 'batch/jobs', ns, query: `fieldSelector=metadata.name%3D${h.name}&watch=true`, duration: Math.max(0, done - tw) });
  const e = deleteObject(a, { at: done + Math.round(rng.around(20 * MS)), obj: job, propagation: 'Background' });
  garbageCollect(a, e, job);
  return a.think(e, 5 * MS);
}

const releaseQuery = (rel: string) => `labelSelector=name%3D${rel}%2Cowner%3Dhelm`;

function releaseSecret(rel: string, version: number, status: string, chart: Chart, sim: Sim, at: number): Body {
  // the release record: gzipped, base64 JSON of chart, values and rendered manifest (several KB)
  void chart;
  const payload = Buffer.from(sim.rng.hex(2400 + sim.rng.int(0, 2000)), 'hex').toString('base64');
  return {
    kind: 'Secret', apiVersion: 'v1',
    metadata: { name: `sh.helm.release.v1.${rel}.v${version}`, creationTimestamp: null, labels: { modifiedAt: String(Math.floor(at / 1e6)), name: rel, owner: 'helm', status, version: String(version) } },
    data: { release: payload }, type: 'helm.sh/release.v1',
  };
}

export const helmInstall: Scenario = {
  name: 'helm-install', shrink: 'helm-uninstall', summary: 'helm install: release history, existence checks, release Secret, chart objects (Service, Deployment/StatefulSet, ...) and their cascades',
  trigger: 'create secrets', weight: 1.5,
  run(sim, user, t0) {
    const a = sim.action(user, t0, { verb: 'create', res: 'secrets' });
    const rng = sim.rng;
    const chart = rng.pick(CHARTS);
    const ns = pickNamespace(a);
    let rel = chart.chart;
    if (sim.cluster.list('secrets', ns, (s) => s.x.release?.name === rel).length || sim.cluster.exists('services', ns, rel) || sim.cluster.exists('services', ns, `${rel}-operator`) || sim.cluster.exists('rbac.authorization.k8s.io/clusterroles', undefined, `${rel}-operator`)) rel = uniqueName(sim, 'services', ns, `${chart.chart}-${rng.suffix(4)}`);
    const manifests = chart.build(rel, ns, sim).sort((x, y) => INSTALL_ORDER.indexOf(x.res) - INSTALL_ORDER.indexOf(y.res));
    const nsOf = (m: Manifest) => (resourceInfo(m.res).namespaced ? m.ns ?? ns : undefined);
    let t = discoverySweep(a, t0);
    if (chart.crds?.length) {
      t = installCrds(a, a.think(t, 5 * MS), chart.crds);
      t = discoverySweep(a, t);
    }
    t = a.think(a.call({ at: a.think(t, 5 * MS), verb: 'list', res: 'secrets', ns, query: releaseQuery(rel) }), 30 * MS);
    for (const m of manifests) t = a.think(a.call({ at: t, verb: 'get', res: m.res, ns: nsOf(m), name: m.req.metadata.name, code: 404 }), 2 * MS);
    if (rng.chance(HELM.createNamespace)) {
      t = a.think(a.call({ at: t, verb: 'create', res: 'namespaces', req: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, creationTimestamp: null, labels: { name: ns } }, spec: {}, status: {} }, code: 409 }), 4 * MS);
    }
    t = a.think(t, 25 * MS);
    const secReq = releaseSecret(rel, 1, 'pending-install', chart, sim, t);
    const relSecret = createObject(a, { at: t, res: 'secrets', ns, req: secReq, manager: 'helm', trigger: true });
    relSecret.x.release = { name: rel, chart: chart.chart, objects: [] as Obj[] };
    let tc = a.think(relSecret.createdAt, 10 * MS);
    const hooks = chart.hooks?.(rel, ns);
    if (hooks?.pre.length) {
      // the hook Jobs' ServiceAccount is a pre-install hook too
      const sa = createObject(a, { at: tc, res: 'serviceaccounts', ns, manager: 'helm', req: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { ...helmMeta(rel, ns, chart, hooks.pre[0]!.serviceAccount), annotations: { 'helm.sh/hook': 'pre-install,pre-upgrade,post-install,post-upgrade', 'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded' } } } });
      tc = a.think(sa.createdAt, 3 * MS);
      for (const h of hooks.pre) tc = runHook(a, tc, rel, ns, chart, h, 'pre-install');
    }
    const created: Obj[] = [];
    for (const m of manifests) {
      let o: Obj;
      const mns = nsOf(m);
      if (m.res === 'services' && m.req.spec.selector) {
        const port = m.req.spec.ports[0];
        const { body } = serviceBodies(sim, { ns: mns!, name: m.req.metadata.name, app: rel, port: port.port, targetPort: port.port, uid: '', rv: '', created: tc, manager: 'helm', labels: m.req.metadata.labels, selector: m.req.spec.selector, headless: m.req.spec.clusterIP === 'None' });
        o = createObject(a, { at: tc, res: 'services', ns: mns, req: m.req, manager: 'helm', query: 'fieldManager=helm', app: rel, defaults: (b) => { b.spec = { ...body.spec, ports: m.req.spec.ports.map((p: Body) => ({ ...p, protocol: p.protocol ?? 'TCP' })) }; b.status = { loadBalancer: {} }; } });
        serviceEndpoints(a, o.createdAt, o);
      } else {
        o = createObject(a, {
          at: tc, res: m.res, ns: mns, req: m.req, manager: 'helm', query: 'fieldManager=helm', app: rel,
          defaults: (b) => {
            if (m.res === 'services') { b.spec = { ...b.spec, sessionAffinity: 'None', type: b.spec.type ?? 'ClusterIP' }; b.status = { loadBalancer: {} }; }
            if (m.res === 'apps/deployments') { b.spec = { progressDeadlineSeconds: 600, revisionHistoryLimit: 10, ...b.spec }; b.status = {}; }
            if (m.res === 'apps/statefulsets') { b.spec = { podManagementPolicy: 'OrderedReady', revisionHistoryLimit: 10, persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' }, ...b.spec }; b.status = { replicas: 0, availableReplicas: 0 }; }
          },
        });
      }
      o.x.helm = rel;
      created.push(o);
      tc = a.think(o.createdAt, 3 * MS);
      if (rng.chance(HELM.sweepPerObject)) discoverySweep(a, tc);
    }
    relSecret.x.release.objects = created;
    // controllers take over
    let ready = tc;
    for (const o of created) {
      if (o.res === 'apps/deployments') { o.x.rs = []; ready = Math.max(ready, deploymentRollout(a, o.createdAt, o)); }
      if (o.res === 'apps/statefulsets') {
        const ctl = sim.sys.ctrl['statefulset-controller'];
        o.x.revisionName = `${o.name}-${rng.suffix(10)}`;
        createObject(a, { actor: ctl, at: o.createdAt + Math.round(rng.around(3 * MS)), res: 'apps/controllerrevisions', ns, manager: 'kube-controller-manager', owner: o, req: { kind: 'ControllerRevision', apiVersion: 'apps/v1', metadata: { name: o.x.revisionName, namespace: ns, creationTimestamp: null, labels: { ...o.body.spec.template.metadata.labels, 'controller.kubernetes.io/hash': o.x.revisionName.split('-').pop() }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: o.name, uid: o.uid, controller: true, blockOwnerDeletion: true }] }, data: { spec: { template: { $patch: 'replace', ...snap(o.body.spec.template) } } }, revision: 1 } });
        ready = Math.max(ready, stsScaleUp(a, o.createdAt + Math.round(rng.around(6 * MS)), o, 0, o.body.spec.replicas ?? 1));
      }
      if (o.res === 'autoscaling/horizontalpodautoscalers') {
        const hpa = sim.sys.ctrl['horizontal-pod-autoscaler'];
        const th = o.createdAt + Math.round(rng.around(15 * SEC, 0.3));
        a.call({ actor: hpa, at: th, verb: 'get', res: 'apps/deployments', ns, name: rel, sub: 'scale' });
        updateObject(a, { actor: hpa, at: th + Math.round(rng.around(6 * MS)), obj: o, sub: 'status', manager: 'kube-controller-manager', mutate: (b) => { b.status = { currentReplicas: 1, desiredReplicas: 1, currentMetrics: [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 2, averageValue: '2m' } } }], conditions: [{ type: 'AbleToScale', status: 'True', lastTransitionTime: b.metadata.creationTimestamp, reason: 'ReadyForNewScale', message: 'recommended size matches current size' }, { type: 'ScalingActive', status: 'True', lastTransitionTime: b.metadata.creationTimestamp, reason: 'ValidMetricFound', message: 'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)' }] }; } });
      }
    }
    // helm --wait polls the workloads every 2 s until they are ready (a Deployment: the object and its ReplicaSets)
    let tw = tc;
    if (rng.chance(HELM.wait)) {
      const workloads = created.filter((o) => o.res === 'apps/deployments' || o.res === 'apps/statefulsets');
      for (tw = tc + HELM.pollEvery; tw < ready + HELM.pollEvery; tw += HELM.pollEvery) {
        for (const w of workloads) {
          const tg = a.call({ at: tw + Math.round(rng.around(3 * MS)), verb: 'get', res: w.res, ns: w.ns, name: w.name });
          if (w.res === 'apps/deployments') {
            const selector = Object.entries(w.body.spec.selector?.matchLabels ?? {}).map(([k, v]) => `${k}%3D${v}`).join('%2C');
            a.call({ at: tg + Math.round(rng.around(2 * MS)), verb: 'list', res: 'apps/replicasets', ns: w.ns, query: `labelSelector=${selector}` });
          }
        }
      }
    }
    for (const h of hooks?.post ?? []) tw = runHook(a, Math.max(tw, tc), rel, ns, chart, h, 'post-install');
    updateObject(a, { at: Math.max(tc, tw) + Math.round(rng.around(20 * MS)), obj: relSecret, manager: 'helm', mutate: (b) => { b.metadata.labels = { ...b.metadata.labels, status: 'deployed' }; } });
    relSecret.x.release.deployed = true;
    sim.cluster.busy(a.end, relSecret, ...created);
    return a;
  },
};

export const helmUninstall: Scenario = {
  name: 'helm-uninstall', summary: 'helm uninstall: release marked uninstalling, objects deleted in reverse order (garbage collection follows), release Secret deleted',
  trigger: 'patch-update secrets', weight: 0.8, fallback: 'helm-install',
  run(sim, user, t0) {
    const rels = idle(sim, 'secrets', t0, (s) => !!s.x.release?.deployed && (s.x.release.objects as Obj[]).every((o) => o.gone || o.busyUntil <= t0));
    if (!rels.length) return undefined;
    const relSecret = sim.rng.pick(rels);
    const rel = relSecret.x.release;
    const rng = sim.rng;
    const ns = relSecret.ns!;
    const a = sim.action(user, t0, { verb: 'update', res: 'secrets' });
    let t = a.discovery(t0, 0.6);
    t = a.think(a.call({ at: t, verb: 'list', res: 'secrets', ns, query: releaseQuery(rel.name) }), 20 * MS);
    t = updateObject(a, { at: t, obj: relSecret, manager: 'helm', trigger: true, mutate: (b) => { b.metadata.labels = { ...b.metadata.labels, status: 'uninstalling' }; } });
    const objs = (rel.objects as Obj[]).filter((o) => !o.gone).sort((x, y) => INSTALL_ORDER.indexOf(y.res) - INSTALL_ORDER.indexOf(x.res));
    t = a.think(t, 10 * MS);
    for (const o of objs) {
      const e = deleteObject(a, { at: t, obj: o, propagation: 'Background' });
      if (o.res === 'services') {
        const ep: Obj | undefined = o.x.endpoints;
        if (ep && !ep.gone) { a.call({ actor: sim.sys.ctrl['endpoint-controller'], at: e + Math.round(rng.around(6 * MS)), verb: 'delete', res: 'endpoints', ns, name: ep.name }); sim.cluster.remove(ep); }
      }
      garbageCollect(a, e, o);
      t = a.think(e, 3 * MS);
    }
    deleteObject(a, { at: a.think(t, 10 * MS), obj: relSecret });
    return a;
  },
};

export const HELM_SCENARIOS: Scenario[] = [helmInstall, helmUninstall];
export type { Act };

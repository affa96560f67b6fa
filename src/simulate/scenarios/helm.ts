/**
 * Helm 3 releases. `helm install` lists the release history, checks every manifest object
 * does not exist (GET → 404), records the release Secret (pending-install), creates the
 * objects in Helm's install order, optionally waits (polling GETs), then marks the release
 * deployed. `helm uninstall` marks the release uninstalling, deletes the objects in reverse
 * order and removes the release Secret.
 *
 * Trigger choice: the first mutating request of either command, which is always on the
 * release Secret — POST sh.helm.release.v1.<name>.v1 for install ("create secrets"), the
 * update to status=uninstalling for uninstall ("patch-update secrets"). Everything the
 * command sends and everything its objects cause is in that context.
 */
import type { Obj } from '../cluster.ts';
import { createObject, updateObject, deleteObject } from '../kube.ts';
import { podTemplate, snap, type Body } from '../objects.ts';
import type { Act, Sim } from '../sim.ts';
import { MS, SEC } from '../time.ts';
import { deploymentRollout, garbageCollect } from '../workloads.ts';
import { idle, pickNamespace, uniqueName } from './common.ts';
import { serviceEndpoints, serviceBodies } from './services.ts';
import { stsScaleUp } from './stateful.ts';
import type { Scenario } from './types.ts';

const INSTALL_ORDER = ['networking.k8s.io/networkpolicies', 'policy/poddisruptionbudgets', 'serviceaccounts', 'secrets', 'configmaps', 'rbac.authorization.k8s.io/roles', 'rbac.authorization.k8s.io/rolebindings', 'services', 'apps/deployments', 'autoscaling/horizontalpodautoscalers', 'apps/statefulsets'];

interface Manifest { res: string; req: Body }

interface Chart { chart: string; version: string; appVersion: string; build(rel: string, ns: string, sim: Sim): Manifest[] }

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
];

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
    if (sim.cluster.list('secrets', ns, (s) => s.x.release?.name === rel).length || sim.cluster.exists('services', ns, rel)) rel = uniqueName(sim, 'services', ns, `${chart.chart}-${rng.suffix(4)}`);
    const manifests = chart.build(rel, ns, sim).sort((x, y) => INSTALL_ORDER.indexOf(x.res) - INSTALL_ORDER.indexOf(y.res));
    let t = a.discovery(t0, 0.6);
    t = a.think(a.call({ at: t, verb: 'list', res: 'secrets', ns, query: releaseQuery(rel) }), 30 * MS);
    for (const m of manifests) t = a.think(a.call({ at: t, verb: 'get', res: m.res, ns, name: m.req.metadata.name, code: 404 }), 2 * MS);
    t = a.think(t, 25 * MS);
    const secReq = releaseSecret(rel, 1, 'pending-install', chart, sim, t);
    const relSecret = createObject(a, { at: t, res: 'secrets', ns, req: secReq, manager: 'helm', trigger: true });
    relSecret.x.release = { name: rel, chart: chart.chart, objects: [] as Obj[] };
    let tc = a.think(relSecret.createdAt, 10 * MS);
    const created: Obj[] = [];
    for (const m of manifests) {
      let o: Obj;
      if (m.res === 'services') {
        const port = m.req.spec.ports[0];
        const { body } = serviceBodies(sim, { ns, name: m.req.metadata.name, app: rel, port: port.port, targetPort: port.port, uid: '', rv: '', created: tc, manager: 'helm', labels: m.req.metadata.labels, selector: m.req.spec.selector, headless: m.req.spec.clusterIP === 'None' });
        o = createObject(a, { at: tc, res: 'services', ns, req: m.req, manager: 'helm', query: 'fieldManager=helm', app: rel, defaults: (b) => { b.spec = { ...body.spec, ports: m.req.spec.ports.map((p: Body) => ({ ...p, protocol: p.protocol ?? 'TCP' })) }; b.status = { loadBalancer: {} }; } });
        serviceEndpoints(a, o.createdAt, o);
      } else {
        o = createObject(a, {
          at: tc, res: m.res, ns, req: m.req, manager: 'helm', query: 'fieldManager=helm', app: rel,
          defaults: (b) => {
            if (m.res === 'apps/deployments') { b.spec = { progressDeadlineSeconds: 600, revisionHistoryLimit: 10, ...b.spec }; b.status = {}; }
            if (m.res === 'apps/statefulsets') { b.spec = { podManagementPolicy: 'OrderedReady', revisionHistoryLimit: 10, persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' }, ...b.spec }; b.status = { replicas: 0, availableReplicas: 0 }; }
          },
        });
      }
      o.x.helm = rel;
      created.push(o);
      tc = a.think(o.createdAt, 3 * MS);
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
    // helm --wait polls the workloads until they are ready
    let tw = tc;
    if (rng.chance(0.5)) {
      const workloads = created.filter((o) => o.res === 'apps/deployments' || o.res === 'apps/statefulsets');
      for (tw = tc + 2 * SEC; tw < ready + 2 * SEC; tw += 2 * SEC) {
        for (const w of workloads) a.call({ at: tw + Math.round(rng.around(3 * MS)), verb: 'get', res: w.res, ns, name: w.name });
      }
    }
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

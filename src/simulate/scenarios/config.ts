/** ConfigMaps, Secrets, ServiceAccounts and their tokens. */
import { createObject, updateObject } from '../kube.ts';
import { snap, type Body } from '../objects.ts';
import type { Act, Sim } from '../sim.ts';
import { rfc3339Sec, SEC } from '../time.ts';
import { idle, kubectlManager, kubectlQuery, lastApplied, pickNamespace, uniqueName } from './common.ts';
import type { Scenario } from './types.ts';
import { patchPodTemplate } from './deployments.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function configData(sim: Sim, kind: string): Record<string, string> {
  switch (kind) {
    case 'nginx-conf': return { 'nginx.conf': `worker_processes auto;\nevents { worker_connections 1024; }\nhttp {\n  server {\n    listen 80;\n    location / { proxy_pass http://backend:8080; }\n    location /healthz { return 200 'ok'; }\n  }\n}\n` };
    case 'app-config': return { 'LOG_LEVEL': sim.rng.pick(['info', 'debug', 'warn']), 'FEATURE_FLAGS': 'checkout-v2,fast-search', 'DB_HOST': 'postgres.shop.svc.cluster.local', 'CACHE_TTL': String(sim.rng.pick([60, 300, 900])), 'application.yaml': 'server:\n  port: 8080\nmanagement:\n  endpoints:\n    web:\n      exposure:\n        include: health,info,prometheus\n' };
    default: return { 'settings.json': JSON.stringify({ retries: 3, timeoutMs: 2500, endpoints: ['https://api.example.com', 'https://backup.example.com'] }, null, 2) };
  }
}

export const configmapCreate: Scenario = {
  name: 'configmap-create', summary: 'kubectl create configmap --from-file / --from-literal',
  trigger: 'create configmaps', weight: 2.5,
  run(sim, user, t0) {
    const a = sim.action(user, t0, { verb: 'create', res: 'configmaps' });
    const ns = pickNamespace(a);
    const kind = sim.rng.pick(['nginx-conf', 'app-config', 'settings']);
    const name = uniqueName(sim, 'configmaps', ns, kind);
    const req: Body = { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name, creationTimestamp: null }, data: configData(sim, kind) };
    createObject(a, { at: a.discovery(t0), res: 'configmaps', ns, req, manager: 'kubectl-create', query: kubectlQuery('create'), trigger: true });
    return a;
  },
};

export const configmapUpdate: Scenario = {
  name: 'configmap-update', summary: 'kubectl apply of a changed ConfigMap (GET, then PATCH)',
  trigger: 'patch-update configmaps', weight: 1.5, fallback: 'configmap-create',
  run(sim, user, t0) {
    const cms = idle(sim, 'configmaps', t0, (c) => c.name !== 'kube-root-ca.crt' && !c.x.helm && !c.ownerUid);
    if (!cms.length) return undefined;
    const cm = sim.rng.pick(cms);
    const a = sim.action(user, t0, { verb: 'patch', res: 'configmaps' });
    let t = a.discovery(t0);
    t = a.think(a.call({ at: t, verb: 'get', res: 'configmaps', ns: cm.ns, name: cm.name }));
    const data = { ...(cm.body.data ?? {}), LOG_LEVEL: sim.rng.pick(['info', 'debug', 'warn', 'error']), UPDATED_AT: rfc3339Sec(t0) };
    const applied = lastApplied({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: cm.name, namespace: cm.ns }, data });
    const patch = { data: { LOG_LEVEL: data.LOG_LEVEL, UPDATED_AT: data.UPDATED_AT }, metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': applied } } };
    updateObject(a, { at: t, obj: cm, verb: 'patch', patch, trigger: true, manager: kubectlManager('apply'), query: kubectlQuery('apply'), mutate: (b) => { b.data = data; b.metadata.annotations = { ...(b.metadata.annotations ?? {}), 'kubectl.kubernetes.io/last-applied-configuration': applied }; } });
    return a;
  },
};

export const secretCreate: Scenario = {
  name: 'secret-create', summary: 'kubectl create secret generic / docker-registry / tls (logged at Metadata level)',
  trigger: 'create secrets', weight: 2,
  run(sim, user, t0) {
    const a = sim.action(user, t0, { verb: 'create', res: 'secrets' });
    const ns = pickNamespace(a);
    const kind = sim.rng.weighted([['generic', 3], ['docker-registry', 1], ['tls', 1]] as const);
    const base = kind === 'generic' ? sim.rng.pick(['db-credentials', 'api-keys', 'smtp-password', 'oauth-client']) : kind === 'tls' ? 'ingress-tls' : 'regcred';
    const name = uniqueName(sim, 'secrets', ns, base);
    const data: Record<string, string> = kind === 'generic' ? { username: b64('app'), password: b64(sim.rng.hex(24)) }
      : kind === 'tls' ? { 'tls.crt': b64(`-----BEGIN CERTIFICATE-----\n${sim.rng.hex(1200)}\n-----END CERTIFICATE-----\n`), 'tls.key': b64(`-----BEGIN PRIVATE KEY-----\n${sim.rng.hex(900)}\n-----END PRIVATE KEY-----\n`) }
      : { '.dockerconfigjson': b64(JSON.stringify({ auths: { 'ghcr.io': { username: 'acme-ci', password: sim.rng.hex(40), auth: b64(`acme-ci:${sim.rng.hex(40)}`) } } })) };
    const type = kind === 'generic' ? 'Opaque' : kind === 'tls' ? 'kubernetes.io/tls' : 'kubernetes.io/dockerconfigjson';
    const req: Body = { kind: 'Secret', apiVersion: 'v1', metadata: { name, creationTimestamp: null }, data, type };
    createObject(a, { at: a.discovery(t0), res: 'secrets', ns, req, manager: 'kubectl-create', query: kubectlQuery('create'), trigger: true });
    return a;
  },
};

/** kubectl get secret NAME -o yaml (a single read), or kubectl get secrets (a list). */
export const secretRead: Scenario = {
  name: 'secret-read', summary: 'kubectl get secret -o yaml / kubectl get secrets',
  trigger: 'get-list secrets', weight: 1.5, fallback: 'secret-create',
  run(sim, user, t0) {
    const secrets = idle(sim, 'secrets', t0);
    if (!secrets.length) return undefined;
    const s = sim.rng.pick(secrets);
    const list = sim.rng.chance(0.3);
    const a = sim.action(user, t0, { verb: list ? 'list' : 'get', res: 'secrets', list });
    const t = a.discovery(t0);
    if (list) a.call({ trigger: true, at: t, verb: 'list', res: 'secrets', ns: s.ns, query: 'limit=500' });
    else a.call({ trigger: true, at: t, verb: 'get', res: 'secrets', ns: s.ns, name: s.name });
    return a;
  },
};

export const serviceaccountCreate: Scenario = {
  name: 'serviceaccount-create', summary: 'kubectl create serviceaccount',
  trigger: 'create serviceaccounts', weight: 1,
  run(sim, user, t0) {
    const a = sim.action(user, t0, { verb: 'create', res: 'serviceaccounts' });
    const ns = pickNamespace(a);
    const name = uniqueName(sim, 'serviceaccounts', ns, sim.rng.pick(['build-bot', 'app-runner', 'metrics-reader', 'backup-agent', 'deployer']));
    const req: Body = { kind: 'ServiceAccount', apiVersion: 'v1', metadata: { name, creationTimestamp: null } };
    createObject(a, { at: a.discovery(t0), res: 'serviceaccounts', ns, req, manager: 'kubectl-create', query: kubectlQuery('create'), trigger: true });
    return a;
  },
};

/** kubectl create token SA: a TokenRequest on the serviceaccounts/token subresource. */
export const serviceaccountToken: Scenario = {
  name: 'serviceaccount-token', summary: 'kubectl create token: TokenRequest for a service account',
  trigger: 'create serviceaccounts/token', weight: 1, fallback: 'serviceaccount-create',
  run(sim, user, t0) {
    const sas = idle(sim, 'serviceaccounts', t0, (s) => s.name !== 'default' || sim.rng.chance(0.2));
    if (!sas.length) return undefined;
    const sa = sim.rng.pick(sas);
    const a = sim.action(user, t0, { verb: 'create', res: 'serviceaccounts', sub: 'token' });
    const t = a.discovery(t0);
    const dur = sim.rng.pick([3600, 3600, 86400, 600]);
    const req = { kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec: { audiences: null, expirationSeconds: dur, boundObjectRef: null }, status: { token: '', expirationTimestamp: null } };
    a.call({ trigger: true, at: t, verb: 'create', res: 'serviceaccounts', ns: sa.ns, name: sa.name, sub: 'token', req, resp: { ...snap(req), metadata: { name: sa.name, namespace: sa.ns, creationTimestamp: rfc3339Sec(t) }, status: { token: '', expirationTimestamp: rfc3339Sec(t + dur * SEC) } } });
    return a;
  },
};

/** kubectl rollout restart: the restartedAt annotation changes the template → a new ReplicaSet. */
export const deploymentRestart: Scenario = {
  name: 'deployment-restart', summary: 'kubectl rollout restart deployment (e.g. after a ConfigMap change): new ReplicaSet, rolling update',
  trigger: 'patch-update apps/deployments', weight: 1.5, fallback: 'deployment-create',
  run(sim, user, t0) {
    return patchPodTemplate(sim, user, t0, (dep, t) => {
      const at = rfc3339Sec(t);
      const tpl = dep.body.spec.template;
      tpl.metadata.annotations = { ...(tpl.metadata.annotations ?? {}), 'kubectl.kubernetes.io/restartedAt': at };
      return {
        manager: 'kubectl-rollout', query: 'rollout',
        fields: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': 1 } } } } },
        patch: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': at } } } } },
      };
    });
  },
};

export const CONFIG_SCENARIOS: Scenario[] = [configmapCreate, configmapUpdate, secretCreate, secretRead, serviceaccountCreate, serviceaccountToken, deploymentRestart];
export type { Act };

/**
 * plugin/helm/kontext and the plain manifests rendered from it (plugin/kubernetes): Pod Security
 * "restricted" for kontext, probes on the health worker's port, secrets for every credential,
 * forward TLS, the Fluent Bit DaemonSet with probes and a metrics Service, every environment
 * variable one kontext reads. With a helm binary: `helm lint`, `helm template` of the chart
 * with its options on, and the committed plain manifests equal a fresh render. Without one, the
 * same structural checks run on the committed plain manifests only.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { OPTIONS } from '../src/config/config.ts';
import { ROOT } from './helpers/hostile.ts';
// @ts-expect-error: plain JavaScript build script without type declarations
import { CHART, chartFiles, findHelm, helm } from '../scripts/helm-manifests.mjs';

type Obj = Record<string, any>;
const helmBin: string | undefined = findHelm();

function docs(text: string): Obj[] {
  return parseAllDocuments(text).map((d) => d.toJS() as Obj).filter((d) => d && d.kind);
}
const ofKind = (all: Obj[], kind: string) => all.filter((d) => d.kind === kind);
const one = (all: Obj[], kind: string, name?: string) => {
  const found = ofKind(all, kind).filter((d) => !name || d.metadata.name === name);
  assert.equal(found.length, 1, `one ${kind}${name ? ` ${name}` : ''}`);
  return found[0]!;
};
const KNOWN_ENV = new Set((OPTIONS as readonly { env: string }[]).map((o) => o.env));

/** the checks every rendering of kontext's Deployment passes */
function checkKontext(all: Obj[]): { deployment: Obj; container: Obj } {
  const deployment = one(all, 'Deployment');
  const pod = deployment.spec.template.spec;
  assert.equal(deployment.spec.replicas, 1, 'one replica: open contexts live in memory');
  assert.equal(pod.automountServiceAccountToken, false);
  const sa = ofKind(all, 'ServiceAccount').find((s) => s.metadata.name === pod.serviceAccountName);
  if (sa) assert.equal(sa.automountServiceAccountToken, false, 'the ServiceAccount mounts no token');
  // Pod Security "restricted"
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  assert.equal(pod.containers.length, 1);
  const container = pod.containers[0];
  const sc = container.securityContext;
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.deepEqual(sc.capabilities.drop, ['ALL']);
  assert.equal(sc.capabilities.add, undefined);
  assert.ok(['RuntimeDefault', 'Localhost'].includes((sc.seccompProfile ?? pod.securityContext.seccompProfile).type));
  for (const v of pod.volumes ?? []) assert.ok(!v.hostPath, 'no host paths');
  // environment: only variables kontext reads; credentials from Secrets
  const env = new Map<string, Obj>(container.env.map((e: Obj) => [e.name, e]));
  for (const name of env.keys()) assert.ok(KNOWN_ENV.has(name), `${name} is an environment variable of kontext (src/config/config.ts)`);
  for (const secret of ['ELASTICSEARCH_URL', 'ELASTICSEARCH_PASSWORD', 'ELASTICSEARCH_API_KEY', 'KONTEXT_FORWARD_SHARED_KEY', 'KONTEXT_AUTH_TOKENS']) {
    assert.ok(env.get(secret)?.valueFrom?.secretKeyRef, `${secret} comes from a Secret`);
  }
  // probes on the health worker's port
  const ports = new Map<string, number>(container.ports.map((p: Obj) => [p.name, p.containerPort]));
  assert.equal(Number(env.get('KONTEXT_HEALTH_PORT')?.value), ports.get('health'));
  assert.equal(Number(env.get('KONTEXT_HTTP_PORT')?.value), ports.get('http'));
  assert.equal(Number(env.get('KONTEXT_FORWARD_PORT')?.value), ports.get('forward'));
  assert.equal(container.readinessProbe.httpGet.path, '/readyz');
  assert.equal(container.livenessProbe.httpGet.path, '/healthz');
  for (const p of [container.readinessProbe, container.livenessProbe]) assert.equal(p.httpGet.port, 'health');
  assert.ok(container.resources.requests && container.resources.limits.memory, 'resources set');
  const service = ofKind(all, 'Service').find((s) => s.metadata.name === deployment.metadata.name)!;
  assert.deepEqual(service.spec.ports.map((p: Obj) => p.targetPort).sort(), ['forward', 'http']);
  return { deployment, container };
}

/** the checks every rendering of the Fluent Bit DaemonSet passes */
function checkFluentBit(all: Obj[], kontextService: Obj): void {
  const ds = one(all, 'DaemonSet');
  const pod = ds.spec.template.spec;
  const c = pod.containers[0];
  const config = one(all, 'ConfigMap');
  const file = /\/fluent-bit\/etc\/kontext\/(\S+)$/.exec(c.args.join(' '))?.[1];
  assert.ok(file && config.data[file], `runs ${file}, which its ConfigMap holds`);
  const fb = parseYaml(config.data[file]) as Obj;
  const httpPort = Number(fb.service.http_port);
  assert.equal(c.ports.find((p: Obj) => p.name === 'metrics').containerPort, httpPort);
  assert.equal(c.livenessProbe.httpGet.port, 'metrics');
  assert.equal(c.readinessProbe.httpGet.path, '/api/v1/health');
  assert.equal(String(fb.service.health_check), 'on', 'the readiness path exists only with health_check on');
  const metrics = ofKind(all, 'Service').find((s) => s.metadata.namespace === ds.metadata.namespace && s.spec.ports.some((p: Obj) => p.targetPort === 'metrics'));
  assert.ok(metrics, 'a metrics Service');
  // every ${VAR} of the configuration is set
  const env = new Map<string, Obj>(c.env.map((e: Obj) => [e.name, e]));
  for (const m of (config.data[file] as string).matchAll(/\$\{([A-Z_]+)\}/g)) assert.ok(env.has(m[1]), `sets ${m[1]}`);
  assert.equal(env.get('KONTEXT_HOST')!.value, `${kontextService.metadata.name}.${kontextService.metadata.namespace}.svc`);
  assert.equal(Number(env.get('KONTEXT_PORT')!.value), kontextService.spec.ports.find((p: Obj) => p.name === 'forward').port);
  assert.ok(env.get('KONTEXT_SHARED_KEY')!.valueFrom.secretKeyRef);
  assert.equal(pod.automountServiceAccountToken, false);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  const mounts = new Map<string, Obj>(c.volumeMounts.map((m: Obj) => [m.mountPath, m]));
  assert.ok(mounts.has('/var/lib/fluent-bit'), 'tail offsets and buffer on a host path');
  assert.ok(pod.tolerations.some((t: Obj) => t.key === 'node-role.kubernetes.io/control-plane'), 'runs on control-plane nodes');
}

describe('plain manifests (plugin/kubernetes)', () => {
  const kontext = docs(readFileSync(path.join(ROOT, 'plugin/kubernetes/kontext.yaml'), 'utf8'));
  const fluentBit = docs(readFileSync(path.join(ROOT, 'plugin/kubernetes/fluent-bit-audit.yaml'), 'utf8'));

  test('kontext: restricted namespace and pod, health probes, secrets', () => {
    const ns = one(kontext, 'Namespace');
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
    for (const d of kontext.filter((x) => x.kind !== 'Namespace')) assert.equal(d.metadata.namespace, ns.metadata.name);
    checkKontext(kontext);
    assert.deepEqual(ofKind(kontext, 'Secret'), [], 'the plain manifests carry no secret values');
  });

  test('Fluent Bit: its own namespace, probes, metrics Service, the chart\'s copy of the configuration', () => {
    const ns = one(fluentBit, 'Namespace');
    for (const d of fluentBit.filter((x) => x.kind !== 'Namespace')) assert.equal(d.metadata.namespace, ns.metadata.name);
    checkFluentBit(fluentBit, one(kontext, 'Service'));
    for (const [file, text] of chartFiles() as [string, string][]) {
      assert.equal(readFileSync(file, 'utf8'), text, `${path.relative(ROOT, file)} is a copy of plugin/fluent-bit (npm run manifests)`);
      assert.equal(one(fluentBit, 'ConfigMap').data[path.basename(file)], text);
    }
  });
});

describe('Helm chart (plugin/helm/kontext)', { skip: helmBin ? false : 'no helm binary: the rendered plain manifests were checked instead' }, () => {
  const full = {
    clusterName: 'prod-eu',
    elasticsearch: { url: 'https://es:9200', username: 'kontext', password: 'pw' },
    forward: { tls: { enabled: true, secretName: 'kontext-forward-tls', verifyClients: true } },
    webhook: { service: { enabled: true, type: 'NodePort', nodePort: 32080 } },
    metrics: { serviceMonitor: { enabled: true } },
    fluentBit: { enabled: true, namespace: 'logging', metrics: { serviceMonitor: true } },
  };
  const valuesFile = path.join(os.tmpdir(), `kontext-helm-${process.pid}.yaml`);
  writeFileSync(valuesFile, JSON.stringify(full));
  const template = (...args: string[]) => docs(helm(helmBin, ['template', 'kontext', CHART, '--namespace', 'kontext', ...args]));

  test('helm lint: defaults and every option on', () => {
    helm(helmBin, ['lint', '--strict', CHART]);
    helm(helmBin, ['lint', '--strict', CHART, '-f', valuesFile]);
  });

  test('defaults: Secret generated, no Fluent Bit, no ServiceMonitor', () => {
    const all = template();
    const { container } = checkKontext(all);
    const secret = one(all, 'Secret');
    for (const k of ['auth-tokens', 'metrics-token', 'forward-shared-key', 'elasticsearch-url']) assert.ok(secret.data[k], `secret key ${k}`);
    assert.ok(Buffer.from(secret.data['auth-tokens'], 'base64').length >= 32, 'a long random token');
    for (const e of container.env) if (e.valueFrom?.secretKeyRef) assert.equal(e.valueFrom.secretKeyRef.name, secret.metadata.name);
    assert.ok(!container.args.includes('--cluster-name'));
    assert.deepEqual(ofKind(all, 'DaemonSet'), []);
    assert.deepEqual(ofKind(all, 'ServiceMonitor'), []);
  });

  test('every option: cluster name, forward TLS with client verification, webhook NodePort, ServiceMonitors, Fluent Bit elsewhere', () => {
    const all = template('-f', valuesFile);
    const { deployment, container } = checkKontext(all);
    assert.deepEqual(container.args.slice(0, 3), ['serve', '--cluster-name', 'prod-eu']);
    const env = new Map<string, Obj>(container.env.map((e: Obj) => [e.name, e]));
    const tlsMount = container.volumeMounts.find((m: Obj) => m.name === 'forward-tls');
    for (const k of ['KONTEXT_FORWARD_TLS_CERT', 'KONTEXT_FORWARD_TLS_KEY', 'KONTEXT_FORWARD_TLS_CA']) assert.ok(env.get(k)?.value.startsWith(tlsMount.mountPath + '/'), k);
    assert.equal(deployment.spec.template.spec.volumes.find((v: Obj) => v.name === 'forward-tls').secret.secretName, 'kontext-forward-tls');
    const secrets = ofKind(all, 'Secret');
    const main = secrets.find((s) => s.metadata.namespace === 'kontext')!;
    assert.equal(Buffer.from(main.data['elasticsearch-password'], 'base64').toString(), 'pw');
    const fbSecret = secrets.find((s) => s.metadata.namespace === 'logging')!;
    assert.equal(fbSecret.data['forward-shared-key'], main.data['forward-shared-key'], 'the same shared key on both ends');
    const webhook = ofKind(all, 'Service').find((s) => s.metadata.name.endsWith('-webhook'))!;
    assert.equal(webhook.spec.type, 'NodePort');
    assert.equal(webhook.spec.ports[0].nodePort, 32080);
    const monitors = ofKind(all, 'ServiceMonitor');
    assert.equal(monitors.length, 2);
    const km = monitors.find((m) => m.metadata.namespace === 'kontext')!;
    assert.equal(km.spec.endpoints[0].authorization.credentials.key, 'metrics-token');
    checkFluentBit(all.filter((d) => d.metadata.namespace === 'logging'), one(all, 'Service', 'kontext'));
    assert.equal(one(all, 'DaemonSet').spec.template.spec.containers[0].env.find((e: Obj) => e.name === 'KONTEXT_SHARED_KEY').valueFrom.secretKeyRef.name, fbSecret.metadata.name);
  });

  test('a missing required value fails the render with its name', () => {
    const fail = (...set: string[]) => spawnSync(helmBin!, ['template', 'kontext', CHART, ...set.flatMap((s) => ['--set', s])], { encoding: 'utf8' });
    assert.match(fail('secrets.create=false').stderr, /secrets\.existingSecret is required/);
    assert.match(fail('forward.tls.enabled=true').stderr, /forward\.tls\.secretName is required/);
  });

  test('the plain manifests are a fresh render of the chart', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/helm-manifests.mjs'), '--check'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, HELM: helmBin } });
    assert.equal(r.status, 0, r.stderr);
  });
});

describe('README docker compose recipe', () => {
  test('exports the generated secrets, so the curl line sends a token', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const recipe = /```sh\n\s*(scripts\/compose-secrets\.sh > \.env[^`]*)```/.exec(readme)?.[1];
    assert.ok(recipe, 'the compose recipe');
    const load = recipe.split('\n').map((l) => l.trim()).find((l) => l.includes('. ./.env'));
    assert.ok(load, 'the recipe loads .env');
    assert.ok(recipe.indexOf(load) < recipe.indexOf('$KONTEXT_AUTH_TOKENS'), 'loaded before the token is used');
    const dir = path.join(os.tmpdir(), `kontext-compose-${process.pid}`);
    spawnSync('mkdir', ['-p', dir]);
    const gen = spawnSync('sh', [path.join(ROOT, 'scripts/compose-secrets.sh')], { encoding: 'utf8' });
    assert.equal(gen.status, 0);
    writeFileSync(path.join(dir, '.env'), gen.stdout);
    // a child process (curl, npx kontext) sees what the recipe's line leaves in the shell
    const r = spawnSync('sh', ['-c', `${load.replace(/#.*$/, '')}\nsh -c 'printf %s "$KONTEXT_AUTH_TOKENS"'`], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, /KONTEXT_AUTH_TOKENS=(\S+)/.exec(gen.stdout)![1]);
    spawnSync('rm', ['-rf', dir]);
  });
});

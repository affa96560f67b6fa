/**
 * Scenarios: scripts of real kubectl and helm commands, each step run by one user. A scenario
 * builds its steps for one run (its namespace, seed-chosen sizes, quiet gaps or overlaps).
 */
import type { StepSpec } from './runner.ts';

export interface ScenarioContext {
  /** run id, e.g. r07; lower-case, usable in names */
  run: string;
  rng: () => number;
  /** a manifest folder of datasets/recorded/manifests copied with __RUN__/__NS__ filled in */
  manifests(name: string, ns?: string): string;
  /** the chart folder of datasets/recorded/charts */
  chart(name: string): string;
  /** a CertificateSigningRequest manifest with a fresh key for `cn` */
  csr(name: string, cn: string, groups: string[]): string;
  /** whether this run overlaps its steps (hard cases) rather than leaving quiet gaps */
  overlap: boolean;
}

export interface Scenario { name: string; summary: string; steps(ctx: ScenarioContext): StepSpec[] }

const pick = <T>(rng: () => number, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const int = (rng: () => number, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));

/** Step builder: ids s01, s02 …; quiet gaps of 2.5–5 s unless the run overlaps. */
function builder(ctx: ScenarioContext) {
  const steps: StepSpec[] = [];
  const add = (user: string, tool: StepSpec['tool'], args: string[], o: Partial<StepSpec> = {}) => {
    const gapMs = o.gapMs ?? (ctx.overlap ? int(ctx.rng, 200, 1500) : int(ctx.rng, 2500, 5000));
    steps.push({ id: `s${String(steps.length + 1).padStart(2, '0')}`, user, tool, args, gapMs, ...o });
  };
  return {
    steps,
    k: (user: string, args: string[], o: Partial<StepSpec> = {}) => add(user, 'kubectl', args, o),
    h: (user: string, args: string[], o: Partial<StepSpec> = {}) => add(user, 'helm', args, o),
    pause: (ms: number) => add('admin', 'pause', [String(ms)], { gapMs: 0 }),
  };
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'deployment-lifecycle',
    summary: 'create a namespace and deployment, wait for rollout, scale, set image, undo, label, annotate, expose, delete',
    steps(ctx) {
      const b = builder(ctx); const ns = `${ctx.run}-web`; const u = pick(ctx.rng, ['alice', 'bob']);
      const r = int(ctx.rng, 4, 12);
      b.k(u, ['create', 'namespace', ns]);
      b.k(u, ['create', 'deployment', 'web', '-n', ns, '--image=nginx:1.26', `--replicas=${r}`]);
      b.k(u, ['rollout', 'status', 'deployment/web', '-n', ns, '--timeout=90s']);
      b.k(u, ['scale', 'deployment', 'web', '-n', ns, `--replicas=${r + int(ctx.rng, 6, 16)}`]);
      b.k(u, ['set', 'image', 'deployment/web', '-n', ns, 'nginx=nginx:1.27']);
      b.k(u, ['rollout', 'status', 'deployment/web', '-n', ns, '--timeout=90s']);
      b.k(u, ['rollout', 'undo', 'deployment/web', '-n', ns]);
      b.k(u, ['label', 'deployment', 'web', '-n', ns, 'tier=frontend']);
      b.k(u, ['annotate', 'deployment', 'web', '-n', ns, `owner=${u}`]);
      b.k(u, ['expose', 'deployment', 'web', '-n', ns, '--port=80']);
      b.k(u, ['get', 'pods', '-n', ns, '-o', 'wide']);
      b.k(u, ['delete', 'deployment', 'web', '-n', ns]);
      b.k(u, ['delete', 'namespace', ns]);
      return b.steps;
    },
  },
  {
    name: 'namespace-quota',
    summary: 'a labeled namespace with a ResourceQuota, a pod, a deployment over quota, then the namespace deleted',
    steps(ctx) {
      const b = builder(ctx); const ns = `${ctx.run}-team`; const u = pick(ctx.rng, ['bob', 'alice']);
      b.k(u, ['create', 'namespace', ns]);
      b.k(u, ['create', 'quota', 'team-quota', '-n', ns, '--hard=pods=4,configmaps=10,services=3']);
      b.k(u, ['label', 'namespace', ns, 'team=payments']);
      b.k(u, ['run', 'probe', '-n', ns, '--image=busybox:1.36', '--restart=Never', '--', 'sleep', '3600']);
      b.k(u, ['create', 'deployment', 'api', '-n', ns, '--image=nginx:1.27', `--replicas=${int(ctx.rng, 5, 8)}`]);
      b.k(u, ['describe', 'quota', 'team-quota', '-n', ns], { gapMs: 4000 });
      b.k(u, ['delete', 'namespace', ns, '--wait=true', '--timeout=90s']);
      return b.steps;
    },
  },
  {
    name: 'config-secrets',
    summary: 'ConfigMaps and Secrets created, patched, read and deleted in a team namespace by a namespace-scoped developer',
    steps(ctx) {
      const b = builder(ctx); const ns = 'team-a'; const n = `${ctx.run}-settings`;
      b.k('carol', ['create', 'configmap', n, '-n', ns, '--from-literal=color=blue', '--from-literal=size=3']);
      b.k('carol', ['create', 'secret', 'generic', `${n}-db`, '-n', ns, '--from-literal=password=s3cr3t-' + ctx.run]);
      b.k('carol', ['patch', 'configmap', n, '-n', ns, '--type=merge', '-p', '{"data":{"color":"green"}}']);
      b.k('carol', ['get', 'secret', `${n}-db`, '-n', ns, '-o', 'yaml']);
      b.k('carol', ['create', 'secret', 'docker-registry', `${n}-pull`, '-n', ns, '--docker-server=registry.example', '--docker-username=ci', '--docker-password=pw']);
      b.k('carol', ['label', 'configmap', n, '-n', ns, 'rotated=yes']);
      b.k('carol', ['delete', 'configmap', n, '-n', ns]);
      b.k('carol', ['delete', 'secret', `${n}-db`, `${n}-pull`, '-n', ns]);
      return b.steps;
    },
  },
  {
    name: 'rbac',
    summary: 'ServiceAccount, Role, RoleBinding, ClusterRole, ClusterRoleBinding, a token, impersonated checks, cleanup',
    steps(ctx) {
      const b = builder(ctx); const ns = `${ctx.run}-apps`; const u = 'alice'; const cr = `${ctx.run}-node-reader`;
      b.k(u, ['create', 'namespace', ns]);
      b.k(u, ['create', 'serviceaccount', 'bot', '-n', ns]);
      b.k(u, ['create', 'role', 'pod-reader', '-n', ns, '--verb=get,list,watch', '--resource=pods']);
      b.k(u, ['create', 'rolebinding', 'bot-pod-reader', '-n', ns, '--role=pod-reader', `--serviceaccount=${ns}:bot`]);
      b.k(u, ['create', 'clusterrole', cr, '--verb=get,list', '--resource=nodes']);
      b.k(u, ['create', 'clusterrolebinding', cr, `--clusterrole=${cr}`, `--serviceaccount=${ns}:bot`]);
      b.k(u, ['create', 'token', 'bot', '-n', ns, '--duration=10m']);
      b.k(u, ['auth', 'can-i', 'list', 'pods', '-n', ns, `--as=system:serviceaccount:${ns}:bot`]);
      b.k(u, ['auth', 'can-i', 'delete', 'nodes', `--as=system:serviceaccount:${ns}:bot`], { expectFail: true });
      b.k(u, ['get', 'pods', '-n', ns, `--as=system:serviceaccount:${ns}:bot`]);
      b.k(u, ['delete', 'clusterrolebinding', cr]);
      b.k(u, ['delete', 'clusterrole', cr]);
      b.k(u, ['delete', 'namespace', ns]);
      return b.steps;
    },
  },
  {
    name: 'helm-lifecycle',
    summary: 'helm install (--create-namespace, CRD, cluster RBAC, webhook, kube-system object, hook Job, --wait), upgrade, rollback, uninstall',
    steps(ctx) {
      const b = builder(ctx); const ns = `${ctx.run}-shop`; const rel = pick(ctx.rng, ['storefront', 'catalog', 'checkout']);
      const chart = ctx.chart('webapp');
      b.h('ci-deployer', ['install', rel, chart, '-n', ns, '--create-namespace', '--wait', '--timeout=3m', `--set=replicaCount=${int(ctx.rng, 2, 4)}`]);
      b.h('ci-deployer', ['list', '-n', ns]);
      b.h('ci-deployer', ['upgrade', rel, chart, '-n', ns, '--wait', '--timeout=3m', `--set=replicaCount=${int(ctx.rng, 5, 9)}`, '--set=config.greeting=hi']);
      b.h('ci-deployer', ['rollback', rel, '1', '-n', ns, '--wait', '--timeout=3m']);
      b.h('ci-deployer', ['history', rel, '-n', ns]);
      b.h('ci-deployer', ['uninstall', rel, '-n', ns, '--wait', '--timeout=3m']);
      b.k('ci-deployer', ['delete', 'namespace', ns]);
      return b.steps;
    },
  },
  {
    name: 'batch',
    summary: 'a Job run to completion, a CronJob firing, then both deleted',
    steps(ctx) {
      const b = builder(ctx); const ns = `${ctx.run}-batch`; const u = pick(ctx.rng, ['bob', 'alice']);
      b.k(u, ['create', 'namespace', ns]);
      b.k(u, ['create', 'job', 'report', '-n', ns, '--image=busybox:1.36', '--', 'sh', '-c', 'echo report']);
      b.k(u, ['wait', '--for=condition=complete', 'job/report', '-n', ns, '--timeout=90s']);
      b.k(u, ['create', 'cronjob', 'tick', '-n', ns, '--image=busybox:1.36', '--schedule=*/1 * * * *', '--', 'date']);
      b.pause(65_000);
      b.k(u, ['get', 'jobs', '-n', ns]);
      b.k(u, ['delete', 'cronjob', 'tick', '-n', ns]);
      b.k(u, ['delete', 'job', 'report', '-n', ns]);
      b.k(u, ['delete', 'namespace', ns]);
      return b.steps;
    },
  },
  {
    name: 'statefulset',
    summary: 'kubectl apply -f a directory (headless Service, StatefulSet, PodDisruptionBudget), rollout, scale, delete -f',
    steps(ctx) {
      const b = builder(ctx); const ns = `${ctx.run}-db`; const u = pick(ctx.rng, ['alice', 'bob']);
      const dir = ctx.manifests('statefulset');
      b.k(u, ['create', 'namespace', ns]);
      b.k(u, ['apply', '-n', ns, '-f', dir]);
      b.k(u, ['rollout', 'status', 'statefulset/db', '-n', ns, '--timeout=120s']);
      b.k(u, ['scale', 'statefulset', 'db', '-n', ns, `--replicas=${int(ctx.rng, 6, 9)}`]);
      b.k(u, ['rollout', 'status', 'statefulset/db', '-n', ns, '--timeout=120s']);
      b.k(u, ['delete', '-n', ns, '-f', dir]);
      b.k(u, ['delete', 'namespace', ns]);
      return b.steps;
    },
  },
  {
    name: 'daemonset',
    summary: 'a DaemonSet on every node: apply, rollout status, rollout restart, delete',
    steps(ctx) {
      const b = builder(ctx); const ns = `${ctx.run}-agents`; const u = pick(ctx.rng, ['alice', 'bob']);
      const dir = ctx.manifests('daemonset');
      b.k(u, ['create', 'namespace', ns]);
      b.k(u, ['apply', '-n', ns, '-f', dir]);
      b.k(u, ['rollout', 'status', 'daemonset/node-agent', '-n', ns, '--timeout=200s']);
      b.k(u, ['rollout', 'restart', 'daemonset/node-agent', '-n', ns]);
      b.k(u, ['rollout', 'status', 'daemonset/node-agent', '-n', ns, '--timeout=200s']);
      b.k(u, ['delete', 'daemonset', 'node-agent', '-n', ns]);
      b.k(u, ['delete', 'namespace', ns]);
      return b.steps;
    },
  },
  {
    name: 'csr',
    summary: 'CertificateSigningRequests: one approved (and signed by the controller-manager), one denied, one for system:masters refused, deleted',
    steps(ctx) {
      const b = builder(ctx);
      const ok = ctx.csr(`${ctx.run}-carol-client`, 'carol', ['team-a-devs']);
      const bad = ctx.csr(`${ctx.run}-mallory-client`, 'mallory', ['contractors']);
      const masters = ctx.csr(`${ctx.run}-escalate`, 'eve', ['system:masters']);
      b.k('carol', ['create', '-f', ok]);
      b.k('alice', ['certificate', 'approve', `${ctx.run}-carol-client`]);
      b.k('carol', ['get', 'csr', `${ctx.run}-carol-client`, '-o', 'jsonpath={.status.certificate}']);
      b.k('bob', ['create', '-f', bad]);
      b.k('alice', ['certificate', 'deny', `${ctx.run}-mallory-client`]);
      // refused by the CertificateSubjectRestriction admission plugin
      b.k('bob', ['create', '-f', masters], { expectFail: true });
      b.k('alice', ['delete', 'csr', `${ctx.run}-carol-client`, `${ctx.run}-mallory-client`]);
      return b.steps;
    },
  },
  {
    name: 'forbidden-and-failed',
    summary: 'requests that fail: forbidden (RBAC), not found, already exists, invalid',
    steps(ctx) {
      const b = builder(ctx); const n = `${ctx.run}-dup`;
      b.k('dave', ['get', 'pods', '-A']);
      b.k('dave', ['create', 'deployment', 'sneaky', '-n', 'team-a', '--image=nginx'], { expectFail: true });
      b.k('dave', ['get', 'secrets', '-n', 'kube-system'], { expectFail: true });
      b.k('carol', ['create', 'deployment', 'outside', '-n', 'default', '--image=nginx'], { expectFail: true });
      b.k('carol', ['get', 'pod', 'does-not-exist', '-n', 'team-a'], { expectFail: true });
      b.k('carol', ['create', 'configmap', n, '-n', 'team-a', '--from-literal=a=1']);
      b.k('carol', ['create', 'configmap', n, '-n', 'team-a', '--from-literal=a=2'], { expectFail: true });
      b.k('bob', ['delete', 'namespace', `${ctx.run}-never-existed`], { expectFail: true });
      b.k('bob', ['create', 'deployment', 'Invalid_Name', '--image=nginx'], { expectFail: true });
      b.k('carol', ['delete', 'configmap', n, '-n', 'team-a']);
      return b.steps;
    },
  },
  {
    name: 'crd',
    summary: 'a CustomResourceDefinition applied and established, custom resources created, patched (status too), deleted, CRD removed',
    steps(ctx) {
      const b = builder(ctx); const ns = `${ctx.run}-gadgets`; const u = pick(ctx.rng, ['alice', 'bob']);
      const dir = ctx.manifests('crd');
      const crd = `gadgets.${ctx.run}.kontext.example`;
      b.k(u, ['apply', '-f', `${dir}/crd.yaml`]);
      b.k(u, ['wait', '--for=condition=established', `crd/${crd}`, '--timeout=60s']);
      b.k(u, ['create', 'namespace', ns]);
      b.k(u, ['apply', '-n', ns, '-f', `${dir}/gadgets.yaml`]);
      b.k(u, ['get', crd, '-n', ns]);
      b.k(u, ['patch', crd, 'blue', '-n', ns, '--type=merge', '-p', '{"spec":{"count":5}}']);
      b.k(u, ['patch', crd, 'red', '-n', ns, '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Ready"}}']);
      b.k(u, ['delete', crd, '--all', '-n', ns]);
      b.k(u, ['delete', 'crd', crd]);
      b.k(u, ['delete', 'namespace', ns]);
      return b.steps;
    },
  },
  {
    name: 'gitops-sync',
    summary: 'a GitOps controller service account applies a directory, syncs a new revision with prune, then tears it down',
    steps(ctx) {
      const b = builder(ctx); const ns = `${ctx.run}-shop`; const sa = 'gitops';
      b.k(sa, ['create', 'namespace', ns]);
      b.k(sa, ['apply', '-n', ns, '-f', ctx.manifests('gitops-v1')]);
      b.k(sa, ['rollout', 'status', 'deployment/shop', '-n', ns, '--timeout=90s']);
      b.k(sa, ['apply', '-n', ns, '-f', ctx.manifests('gitops-v2'), '--prune', '-l', 'app.kubernetes.io/managed-by=gitops']);
      b.k(sa, ['rollout', 'status', 'deployment/shop', '-n', ns, '--timeout=90s']);
      b.k(sa, ['diff', '-n', ns, '-f', ctx.manifests('gitops-v2')]);
      b.k(sa, ['delete', '-n', ns, '-f', ctx.manifests('gitops-v2')]);
      b.k(sa, ['delete', 'namespace', ns]);
      return b.steps;
    },
  },
  {
    name: 'pods-and-services',
    summary: 'single pods run, labeled, waited for; a Service and its Endpoints; pods deleted',
    steps(ctx) {
      const b = builder(ctx); const ns = 'team-a'; const p = `${ctx.run}-cache`;
      b.k('carol', ['run', p, '-n', ns, '--image=redis:7', '--labels=app=cache,run=' + ctx.run]);
      b.k('carol', ['wait', '--for=condition=Ready', `pod/${p}`, '-n', ns, '--timeout=60s']);
      b.k('carol', ['expose', 'pod', p, '-n', ns, '--port=6379', `--name=${p}`]);
      b.k('carol', ['get', 'endpoints', p, '-n', ns]);
      b.k('carol', ['label', 'pod', p, '-n', ns, 'tier=backend']);
      b.k('carol', ['annotate', 'pod', p, '-n', ns, 'note=recorded']);
      b.k('carol', ['delete', 'service', p, '-n', ns]);
      b.k('carol', ['delete', 'pod', p, '-n', ns, '--wait=true']);
      return b.steps;
    },
  },
  {
    name: 'concurrent-users',
    summary: 'four users at once: a deployment, a namespace with quota, config changes, a helm release',
    steps(ctx) {
      const c = { ...ctx, overlap: true };
      const b = builder(c); const ns1 = `${ctx.run}-a`; const ns2 = `${ctx.run}-b`; const ns3 = `${ctx.run}-rel`;
      b.k('alice', ['create', 'namespace', ns1], { gapMs: 0 });
      b.k('bob', ['create', 'namespace', ns2], { overlap: true });
      b.h('ci-deployer', ['install', 'burst', ctx.chart('webapp'), '-n', ns3, '--create-namespace', '--wait', '--timeout=3m', '--set=webhook=false,kubeSystemConfig=false'], { overlap: true });
      b.k('carol', ['create', 'configmap', `${ctx.run}-flags`, '-n', 'team-a', '--from-literal=beta=true'], { overlap: true });
      b.k('alice', ['create', 'deployment', 'front', '-n', ns1, '--image=nginx:1.27', `--replicas=${int(ctx.rng, 5, 10)}`], { overlap: true });
      b.k('bob', ['create', 'quota', 'q', '-n', ns2, '--hard=pods=5'], { overlap: true });
      b.k('carol', ['patch', 'configmap', `${ctx.run}-flags`, '-n', 'team-a', '--type=merge', '-p', '{"data":{"beta":"false"}}'], { overlap: true });
      b.k('bob', ['create', 'deployment', 'back', '-n', ns2, '--image=nginx:1.27', '--replicas=3'], { overlap: true });
      b.k('alice', ['scale', 'deployment', 'front', '-n', ns1, '--replicas=2'], { overlap: true });
      b.k('carol', ['delete', 'configmap', `${ctx.run}-flags`, '-n', 'team-a'], { overlap: true });
      b.k('alice', ['delete', 'namespace', ns1], { overlap: true });
      b.k('bob', ['delete', 'namespace', ns2], { overlap: true });
      b.h('ci-deployer', ['uninstall', 'burst', '-n', ns3, '--wait'], { overlap: true });
      b.k('ci-deployer', ['delete', 'namespace', ns3]);
      return b.steps;
    },
  },
  {
    name: 'kustomize',
    summary: 'kubectl apply -k a kustomization (generated ConfigMap, image and replica overrides), a second revision, diff -k, delete -k',
    steps(ctx) {
      const b = builder(ctx); const ns = `${ctx.run}-kust`; const u = pick(ctx.rng, ['alice', 'bob']);
      const v1 = ctx.manifests('kustomize-v1'); const v2 = ctx.manifests('kustomize-v2');
      b.k(u, ['create', 'namespace', ns]);
      b.k(u, ['apply', '-k', v1]);
      b.k(u, ['rollout', 'status', 'deployment/billing', '-n', ns, '--timeout=90s']);
      b.k(u, ['apply', '-k', v2]);
      b.k(u, ['rollout', 'status', 'deployment/billing', '-n', ns, '--timeout=90s']);
      b.k(u, ['diff', '-k', v2]);
      b.k(u, ['get', '-k', v2, '-o', 'name']);
      b.k(u, ['delete', '-k', v2]);
      b.k(u, ['delete', 'namespace', ns]);
      return b.steps;
    },
  },
];

export const SCENARIO_NAMES: readonly string[] = SCENARIOS.map((s) => s.name);

export function scenarioByName(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new RangeError(`unknown scenario ${JSON.stringify(name)} (known: ${SCENARIO_NAMES.join(', ')})`);
  return s;
}

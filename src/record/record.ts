/**
 * `kontext record`: build (once) and start a real control plane on loopback, set up its users,
 * run scenario after scenario as real commands, stop it, and write the corpus: per run the audit
 * events (RequestResponse, as the apiserver logged them), a manifest, and the ground truth.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { prng } from '../util/prng.ts';
import type { AuditEvent } from '../types/audit.ts';
import { binPath, buildAll, checkCache, VERSIONS } from './build.ts';
import { Cluster, nodeName, type KubeletIdentity } from './cluster.ts';
import { runSteps, writeFileIn, type RunContext, type StepRecord, type StepSpec } from './runner.ts';
import { SCENARIOS, scenarioByName, type Scenario, type ScenarioContext } from './scenarios.ts';
import { deriveTruth, type TruthStep } from './truth.ts';
import { assignRuns, listRuns, writeRun, writeSplits, type RunWindow } from './corpus.ts';
import { USERS } from './pki.ts';

export interface RecordOptions {
  cacheDir: string;
  outDir: string;
  /** folder with charts/ and manifests/ (the committed corpus folder) */
  assetsDir: string;
  runs: number;
  /** number of the first run (recordings split over several clusters continue the cycle) */
  firstRun: number;
  seed: number;
  nodes: number;
  /** who acts as the kubelets (default: per-node identities) */
  kubelets?: KubeletIdentity;
  scenarios?: string[];
  /** quiet time after each run, for its cascades to finish */
  settleMs: number;
  keepWork: boolean;
  log: (m: string) => void;
}

/** Cluster-wide setup as the admin: who may do what, a team namespace, a GitOps service account, nodes. */
function setupSteps(nodes: number, kubelets: KubeletIdentity): { rbac: StepSpec[]; nodes: StepSpec[] } {
  const k = (id: string, args: string[], stdin?: string): StepSpec => ({ id, user: 'admin', tool: 'kubectl', args, gapMs: 0, ...(stdin ? { stdin } : {}) });
  const nodeDocs = Array.from({ length: nodes }, (_, i) => [
    'apiVersion: v1', 'kind: Node', 'metadata:', `  name: ${nodeName(i)}`,
    '  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}',
    `  labels: {kubernetes.io/hostname: ${nodeName(i)}, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok, topology.kubernetes.io/zone: zone-${i % 3}}`,
    'spec: {}', 'status:', '  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}', '  capacity: {cpu: "32", memory: 256Gi, pods: "110"}',
    '  nodeInfo: {architecture: amd64, kubeletVersion: fake, kubeProxyVersion: fake, operatingSystem: linux}',
  ].join('\n')).join('\n---\n');
  const rbac = [
    k('rbac-admins', ['create', 'clusterrolebinding', 'platform-admins', '--clusterrole=cluster-admin', '--group=platform-admins']),
    k('rbac-ci', ['create', 'clusterrolebinding', 'ci-deployers', '--clusterrole=cluster-admin', '--group=ci']),
    k('rbac-viewers', ['create', 'clusterrolebinding', 'viewers', '--clusterrole=view', '--group=viewers']),
    k('ns-team-a', ['create', 'namespace', 'team-a']),
    k('rbac-team-a', ['create', 'rolebinding', 'team-a-devs', '-n', 'team-a', '--clusterrole=edit', '--group=team-a-devs']),
    k('rbac-csr', ['create', 'clusterrole', 'csr-requester', '--verb=create,get,list,watch', '--resource=certificatesigningrequests.certificates.k8s.io']),
    k('rbac-csr-devs', ['create', 'clusterrolebinding', 'csr-requesters', '--clusterrole=csr-requester', '--group=team-a-devs']),
    k('ns-gitops', ['create', 'namespace', 'gitops']),
    k('sa-gitops', ['create', 'serviceaccount', 'deployer', '-n', 'gitops']),
    k('rbac-gitops', ['create', 'clusterrolebinding', 'gitops-deployer', '--clusterrole=cluster-admin', '--serviceaccount=gitops:deployer']),
    // what kwok needs beyond a kubelet's rights (the Node authorizer gives a node its own Node and
    // Lease only): its start-up check lists all nodes, and it watches its lease rather than getting it
    ...(kubelets === 'per-node' ? [
      k('rbac-kwok-startup', ['create', 'clusterrole', 'kwok-startup-check', '--verb=list', '--resource=nodes']),
      k('rbac-kwok-startup-nodes', ['create', 'clusterrolebinding', 'kwok-startup-check', '--clusterrole=kwok-startup-check', '--group=system:nodes']),
      k('rbac-kwok-leases', ['create', 'role', 'kwok-lease-watch', '-n', 'kube-node-lease', '--verb=list,watch', '--resource=leases.coordination.k8s.io']),
      k('rbac-kwok-leases-nodes', ['create', 'rolebinding', 'kwok-lease-watch', '-n', 'kube-node-lease', '--role=kwok-lease-watch', '--group=system:nodes']),
    ] : []),
  ];
  return {
    rbac,
    nodes: [
      k('nodes', ['apply', '-f', '-'], nodeDocs),
      k('nodes-ready', ['wait', '--for=condition=Ready', 'nodes', '--all', '--timeout=120s']),
    ],
  };
}

function gomodcache(): string {
  return execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim();
}

function csrManifest(dir: string, name: string, cn: string, groups: string[]): string {
  mkdirSync(dir, { recursive: true });
  const key = path.join(dir, `${name}.key`);
  const subj = `/CN=${cn}${groups.map((g) => `/O=${g}`).join('')}`;
  const pem = execFileSync('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-subj', subj], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return writeFileIn(dir, `${name}.yaml`, [
    'apiVersion: certificates.k8s.io/v1', 'kind: CertificateSigningRequest', 'metadata:', `  name: ${name}`, 'spec:',
    `  request: ${Buffer.from(pem).toString('base64')}`, '  signerName: kubernetes.io/kube-apiserver-client', '  expirationSeconds: 86400',
    '  usages: [client auth]', '',
  ].join('\n'));
}

function copyManifests(src: string, dst: string, vars: Record<string, string>): string {
  mkdirSync(dst, { recursive: true });
  for (const f of readdirSync(src)) {
    let text = readFileSync(path.join(src, f), 'utf8');
    for (const [k, v] of Object.entries(vars)) text = text.split(k).join(v);
    writeFileSync(path.join(dst, f), text);
  }
  return dst;
}

/** Which scenario each run plays: every scenario in turn, then again with other seeds. */
export function planRuns(n: number, names?: string[], first = 1): { run: string; scenario: Scenario; overlap: boolean }[] {
  const list = names?.length ? names.map(scenarioByName) : [...SCENARIOS];
  return Array.from({ length: n }, (_, j) => {
    const i = first - 1 + j;
    const scenario = list[i % list.length]!;
    const round = Math.floor(i / list.length);
    return { run: `r${String(i + 1).padStart(2, '0')}`, scenario, overlap: scenario.name === 'concurrent-users' || round % 2 === 1 };
  });
}

async function readAudit(file: string): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  const rl = readline.createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) if (line.trim()) out.push(JSON.parse(line) as AuditEvent);
  return out;
}

export async function record(o: RecordOptions): Promise<void> {
  const { log } = o;
  await buildAll(o.cacheDir, log);
  const check = checkCache(o.cacheDir);
  if (!check.ok) throw new Error(`build incomplete: ${check.problems.join('; ')}`);
  const workDir = path.join(o.cacheDir, 'work', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(workDir, { recursive: true });
  const kubelets = o.kubelets ?? 'per-node';
  const cluster = new Cluster({ cacheDir: o.cacheDir, workDir, nodes: o.nodes, kubelets, log });
  const usernames: Record<string, string> = Object.fromEntries(USERS.map((u) => [u.name, u.name]));
  usernames.gitops = 'system:serviceaccount:gitops:deployer';
  const allSteps: TruthStep[] = [];
  const windows: RunWindow[] = [];
  let failure: unknown;
  const onSignal = () => { void cluster.stop().then(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await cluster.up(gomodcache());
    const ctx: RunContext = {
      bin: { kubectl: binPath(o.cacheDir, 'kubectl'), helm: binPath(o.cacheDir, 'helm') },
      kubeconfigs: { ...cluster.kubeconfigs }, usernames, homeDir: path.join(workDir, 'home'),
      shorten: [[path.join(workDir, 'files'), '.'], [path.resolve(o.assetsDir), 'datasets/recorded']], log, stepTimeoutMs: 240_000,
    };
    log('setup: users, RBAC, namespaces, the GitOps service account, kwok nodes');
    const plan = setupSteps(o.nodes, kubelets);
    const setup = await runSteps(ctx, plan.rbac);
    cluster.startKubelets();
    setup.push(...await runSteps(ctx, plan.nodes));
    for (const s of setup) allSteps.push({ action: `setup/${s.id}`, user: s.user, start: Date.parse(s.start), end: Date.parse(s.end) });
    const bad = setup.find((s) => s.exitCode !== 0);
    if (bad) throw new Error(`setup step ${bad.id} failed (${bad.command}); see the kubectl output above`);
    const token = execFileSync(ctx.bin.kubectl, ['create', 'token', 'deployer', '-n', 'gitops', '--duration=48h'], { env: { ...process.env, KUBECONFIG: cluster.kubeconfigs.admin }, encoding: 'utf8' }).trim();
    const gitopsKc = path.join(workDir, 'kube', 'gitops.kubeconfig');
    writeFileSync(gitopsKc, readFileSync(cluster.kubeconfigs.admin!, 'utf8').replace(/token: .*/, `token: ${token}`).replace(/"admin"/g, '"gitops-deployer"'), { mode: 0o600 });
    ctx.kubeconfigs.gitops = gitopsKc;
    await new Promise((r) => setTimeout(r, o.settleMs));

    for (const [i, plan] of planRuns(o.runs, o.scenarios, o.firstRun).entries()) {
      const seed = o.seed + o.firstRun - 1 + i;
      const runId = `${plan.run}-${plan.scenario.name}`;
      const files = path.join(workDir, 'files', plan.run);
      const sctx: ScenarioContext = {
        run: plan.run, rng: prng(seed), overlap: plan.overlap,
        manifests: (name) => copyManifests(path.join(o.assetsDir, 'manifests', name), path.join(files, name), { __RUN__: plan.run }),
        chart: (name) => path.join(path.resolve(o.assetsDir), 'charts', name),
        csr: (name, cn, groups) => csrManifest(files, name, cn, groups),
      };
      const steps = plan.scenario.steps(sctx);
      log(`run ${i + 1}/${o.runs} ${runId} (${steps.length} steps, ${plan.overlap ? 'overlapping' : 'quiet gaps'})`);
      const start = new Date();
      const recs: StepRecord[] = await runSteps(ctx, steps);
      await new Promise((r) => setTimeout(r, o.settleMs));
      const end = new Date();
      for (const s of recs) allSteps.push({ action: `${runId}/${s.id}`, user: s.user, start: Date.parse(s.start), end: Date.parse(s.end) });
      windows.push({ run: runId, scenario: plan.scenario.name, seed, overlap: plan.overlap, start: start.toISOString(), end: end.toISOString(), steps: recs });
    }
  } catch (e) {
    // keep what was recorded before the failure
    failure = e;
    log(`recording stopped early: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    log('cluster: stopping');
    await cluster.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (failure && !windows.length) throw failure;
  // what the corpus is made from, so it can be rewritten from the work folder (--from-work)
  writeFileSync(path.join(workDir, 'recording.json'), JSON.stringify({ nodes: o.nodes, kubelets, steps: allSteps, windows }, null, 1));
  await writeCorpus(workDir, o.outDir, o.firstRun === 1, log);
  if (!o.keepWork) rmSync(path.join(workDir, 'etcd'), { recursive: true, force: true });
  if (failure) throw new Error(`recording stopped after ${windows.length} runs (those were written): ${failure instanceof Error ? failure.message : String(failure)}`);
}

/** Writes the corpus from a recording's work folder (audit log + recording.json). */
export async function writeCorpus(workDir: string, outDir: string, replace: boolean, log: (m: string) => void): Promise<void> {
  const rec = JSON.parse(readFileSync(path.join(workDir, 'recording.json'), 'utf8')) as { nodes: number; kubelets?: 'per-node' | 'shared'; steps: TruthStep[]; windows: RunWindow[] };
  const auditLog = path.join(workDir, 'audit', 'audit.log');
  log(`reading ${auditLog}`);
  const events = await readAudit(auditLog);
  log(`${events.length} audit events; deriving ground truth`);
  const truth = deriveTruth(events, rec.steps);
  const perRun = assignRuns(events, truth, rec.windows);
  mkdirSync(outDir, { recursive: true });
  // the new recording replaces every run of the previous one (unless it continues it)
  if (replace) for (const d of listRuns(outDir)) rmSync(d, { recursive: true, force: true });
  for (const w of rec.windows) {
    const dir = path.join(outDir, w.run);
    rmSync(dir, { recursive: true, force: true });
    const m = await writeRun(dir, w, perRun.get(w.run) ?? [], truth, { kubernetesVersion: VERSIONS.kubernetes, versions: { ...VERSIONS }, nodes: rec.nodes, kubelets: rec.kubelets ?? 'shared' });
    log(`wrote ${dir}: ${m.counts.events} events (${m.counts.own} own, ${m.counts.cascade} cascade, ${m.counts.discovery} discovery, ${m.counts.background} background)`);
  }
  cpSync(path.join(workDir, 'audit', 'policy.yaml'), path.join(outDir, 'recording-policy.yaml'));
  const splits = writeSplits(outDir);
  log(`wrote ${path.join(outDir, 'splits.json')}: ${splits.train.length} train runs, ${splits.test.length} test runs`);
}

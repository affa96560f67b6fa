/**
 * A real control plane on loopback, from the cached build: etcd, kube-apiserver (audit log
 * backend, JSON, the recording policy), kube-controller-manager, kube-scheduler, and kwok
 * standing in for the kubelets of fake nodes. Free ports only; everything stops on stop().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { binPath, VERSIONS } from './build.ts';
import { generatePki, kubeconfig, kubeconfigWithCert, nodeClientCert, USERS, type Pki } from './pki.ts';

/** What the apiserver records: everything at RequestResponse; other levels are derived. */
export const RECORDING_POLICY_YAML = [
  'apiVersion: audit.k8s.io/v1',
  'kind: Policy',
  'omitStages: ["RequestReceived"]',
  'rules:',
  '- level: RequestResponse',
  '',
].join('\n');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The fake nodes' names. */
export const nodeName = (i: number): string => `kwok-node-${i}`;

/**
 * Who acts as the kubelets: `per-node`, one kwok per node, each managing only its node with that
 * node's client certificate (`system:node:<node>`, group `system:nodes`: the Node authorizer and
 * NodeRestriction apply, as to real kubelets); `shared`, one kwok for all nodes as
 * `kwok-controller` (in `system:masters`).
 */
export type KubeletIdentity = 'per-node' | 'shared';
export const KUBELET_IDENTITIES: readonly KubeletIdentity[] = ['per-node', 'shared'];

export interface ClusterOptions {
  cacheDir: string;
  /** working directory of this recording (certs, data, logs, audit log) */
  workDir: string;
  nodes: number;
  kubelets?: KubeletIdentity;
  log: (m: string) => void;
}

/** kwok's stages, read from the kwok module in the Go module cache (not copied into kontext). */
export function kwokStageFiles(gomodcache: string): string[] {
  const root = path.join(gomodcache, `sigs.k8s.io/kwok@${VERSIONS.kwok}`, 'kustomize/stage');
  const files = [
    'node/fast/node-initialize.yaml',
    'node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
    ...['pod-create', 'pod-init-container-running', 'pod-init-container-completed', 'pod-ready', 'pod-complete', 'pod-delete'].map((f) => `pod/general/${f}.yaml`),
  ].map((f) => path.join(root, f));
  for (const f of files) if (!existsSync(f)) throw new Error(`kwok stage ${f} not found (run the build first: it downloads the kwok module)`);
  return files;
}

export class Cluster {
  readonly procs: { name: string; child: ChildProcess }[] = [];
  pki!: Pki;
  server = '';
  auditLog = '';
  kubeconfigs: Record<string, string> = {};
  private stopping = false;
  private startKwok: () => void = () => {};
  private kwokStarted = false;

  /** Starts the kubelets' kwok processes (once; with per-node identities, after the setup's RBAC). */
  startKubelets(): void {
    if (this.kwokStarted) return;
    this.kwokStarted = true;
    this.startKwok();
  }

  constructor(readonly opts: ClusterOptions) {}

  private start(name: string, bin: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const out = createWriteStream(path.join(this.opts.workDir, 'logs', `${name}.log`));
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    child.on('exit', (code, sig) => { if (!this.stopping) this.opts.log(`cluster: ${name} exited (${code ?? sig}); see ${path.join(this.opts.workDir, 'logs', `${name}.log`)}`); });
    this.procs.push({ name, child });
    return child;
  }

  /** GET on the apiserver as admin; resolves the status code and body. */
  get(p: string, user = 'admin'): Promise<{ code: number; body: string }> {
    return new Promise((resolve) => {
      const req = https.get(`${this.server}${p}`, { ca: readFileSync(this.pki.ca), headers: { authorization: `Bearer ${this.pki.tokens[user]}` }, timeout: 5000 }, (res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
      });
      req.on('error', () => resolve({ code: 0, body: '' }));
      req.on('timeout', () => { req.destroy(); resolve({ code: 0, body: '' }); });
    });
  }

  private async waitFor(what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      if (await ok()) { this.opts.log(`cluster: ${what} (${((Date.now() - t0) / 1000).toFixed(1)}s)`); return; }
      const dead = this.procs.find((p) => p.child.exitCode !== null);
      if (dead) throw new Error(`${dead.name} exited with ${dead.child.exitCode} while waiting for ${what}; see ${path.join(this.opts.workDir, 'logs', `${dead.name}.log`)}:\n${tail(path.join(this.opts.workDir, 'logs', `${dead.name}.log`))}`);
      await sleep(500);
    }
    throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
  }

  async up(gomodcache: string): Promise<void> {
    const { workDir, cacheDir, log } = this.opts;
    for (const d of ['pki', 'logs', 'etcd', 'kube', 'audit']) mkdirSync(path.join(workDir, d), { recursive: true });
    this.pki = generatePki(path.join(workDir, 'pki'));
    const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
    const perNode = (this.opts.kubelets ?? 'shared') === 'per-node';
    this.server = `https://127.0.0.1:${apiPort}`;
    this.auditLog = path.join(workDir, 'audit', 'audit.log');
    const policyFile = path.join(workDir, 'audit', 'policy.yaml');
    writeFileSync(policyFile, RECORDING_POLICY_YAML);
    for (const u of USERS) {
      const f = path.join(workDir, 'kube', `${u.name.replace(/[^a-z0-9-]/gi, '_')}.kubeconfig`);
      writeFileSync(f, kubeconfig(this.server, this.pki.ca, u.name, this.pki.tokens[u.name]!), { mode: 0o600 });
      this.kubeconfigs[u.name] = f;
    }
    const bin = (b: Parameters<typeof binPath>[1]) => binPath(cacheDir, b);

    log(`cluster: etcd on 127.0.0.1:${etcdClient}`);
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    this.start('etcd', bin('etcd'), [
      '--name', 'record', '--data-dir', path.join(workDir, 'etcd'),
      '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
      '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster', `record=http://127.0.0.1:${etcdPeer}`, '--log-level', 'warn', '--unsafe-no-fsync',
    ]);
    await this.waitFor('etcd healthy', async () => (await httpGet(`${etcdUrl}/health`)).includes('true'), 60_000);

    log(`cluster: kube-apiserver on ${this.server}, audit log ${this.auditLog}`);
    const p = this.pki;
    this.start('kube-apiserver', bin('kube-apiserver'), [
      '--etcd-servers', etcdUrl, '--bind-address', '127.0.0.1', '--advertise-address', '127.0.0.1', '--endpoint-reconciler-type', 'none', '--secure-port', String(apiPort),
      '--cert-dir', path.join(workDir, 'pki'), '--tls-cert-file', p.serverCert, '--tls-private-key-file', p.serverKey,
      '--client-ca-file', p.ca, '--token-auth-file', p.tokenFile, '--authorization-mode', 'Node,RBAC',
      '--service-account-issuer', 'https://kubernetes.default.svc.cluster.local', '--service-account-key-file', p.saPub,
      '--service-account-signing-key-file', p.saKey, '--api-audiences', 'https://kubernetes.default.svc.cluster.local',
      '--service-cluster-ip-range', '10.96.0.0/16', '--allow-privileged=true', '--profiling=false',
      '--audit-log-path', this.auditLog, '--audit-log-format', 'json', '--audit-policy-file', policyFile,
      '--audit-log-maxsize', '0', '--audit-log-mode', 'blocking',
      // kubelets with node identities are limited to their own node, as kubeadm clusters do
      ...(perNode ? ['--enable-admission-plugins', 'NodeRestriction'] : []),
    ]);
    await this.waitFor('kube-apiserver ready', async () => (await this.get('/readyz')).code === 200, 180_000);

    this.start('kube-controller-manager', bin('kube-controller-manager'), [
      '--kubeconfig', this.kubeconfigs['system:kube-controller-manager']!, '--bind-address', '127.0.0.1', '--secure-port', String(kcmPort),
      '--authentication-kubeconfig', this.kubeconfigs['system:kube-controller-manager']!, '--authorization-kubeconfig', this.kubeconfigs['system:kube-controller-manager']!,
      '--use-service-account-credentials=true', '--service-account-private-key-file', p.saKey, '--root-ca-file', p.ca,
      '--cluster-signing-cert-file', p.ca, '--cluster-signing-key-file', p.caKey, '--leader-elect=true', '--profiling=false',
      '--controllers', '*,bootstrapsigner,tokencleaner', '--cert-dir', path.join(workDir, 'pki', 'kcm'),
    ]);
    this.start('kube-scheduler', bin('kube-scheduler'), [
      '--kubeconfig', this.kubeconfigs['system:kube-scheduler']!, '--bind-address', '127.0.0.1', '--secure-port', String(schedPort),
      '--authentication-kubeconfig', this.kubeconfigs['system:kube-scheduler']!, '--authorization-kubeconfig', this.kubeconfigs['system:kube-scheduler']!,
      '--leader-elect=true', '--profiling=false',
    ]);
    const stages = kwokStageFiles(gomodcache);
    const kwokArgs = (kc: string, port: number, manage: string[]) => [
      '--kubeconfig', kc, ...manage, '--node-lease-duration-seconds', '40',
      '--cidr', '10.244.0.0/16', '--node-ip', '127.0.0.1', '--server-address', `127.0.0.1:${port}`,
      ...stages.flatMap((s) => ['--config', s]),
    ];
    this.startKwok = () => {
      if (perNode) {
        for (let i = 0; i < this.opts.nodes; i++) {
          const node = nodeName(i);
          const { cert, key } = nodeClientCert(p, node);
          const kc = path.join(workDir, 'kube', `${node}.kubeconfig`);
          writeFileSync(kc, kubeconfigWithCert(this.server, p.ca, `system:node:${node}`, cert, key), { mode: 0o600 });
          const home = path.join(workDir, 'kube', node);
          mkdirSync(home, { recursive: true });
          this.start(`kwok-${node}`, bin('kwok'), kwokArgs(kc, 0, ['--manage-all-nodes=false', '--manage-single-node', node]), { ...process.env, HOME: home });
        }
        log(`cluster: ${this.opts.nodes} kwok processes, one per node, each as system:node:<node>`);
      } else {
        this.start('kwok', bin('kwok'), kwokArgs(this.kubeconfigs['kwok-controller']!, kwokPort, ['--manage-all-nodes=false', '--manage-nodes-with-annotation-selector', 'kwok.x-k8s.io/node=fake']), { ...process.env, HOME: path.join(workDir, 'kube') });
      }
    };
    // the shared kwok starts now; per-node ones after the setup granted their startup check (startKubelets)
    if (!perNode) this.startKubelets();
    await this.waitFor('controller-manager and scheduler leaders elected', async () => {
      const a = await this.get('/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager');
      const b = await this.get('/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler');
      return a.code === 200 && b.code === 200;
    }, 180_000);
    await this.waitFor('default ServiceAccount created', async () => (await this.get('/api/v1/namespaces/default/serviceaccounts/default')).code === 200, 120_000);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    // reverse start order; the apiserver flushes its audit log on SIGTERM
    for (const { child } of [...this.procs].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill('SIGTERM');
      const done = await Promise.race([new Promise<boolean>((r) => child.once('exit', () => r(true))), sleep(15_000).then(() => false)]);
      if (!done) child.kill('SIGKILL');
    }
  }
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve) => {
    import('node:http').then(({ get }) => {
      const req = get(url, { timeout: 3000 }, (res) => { let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => resolve(b)); });
      req.on('error', () => resolve(''));
      req.on('timeout', () => { req.destroy(); resolve(''); });
    }, () => resolve(''));
  });
}

function tail(file: string): string {
  try { return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n'); } catch { return ''; }
}

/**
 * Builds the real Kubernetes components the recorder runs, with the ordinary Go tools, from the
 * Go module proxy, into an ignored cache folder (default `.kontext/record/`). Each component gets
 * a generated build module (go.mod + a file importing the command) so nothing of theirs is
 * vendored or committed. A stamp (`bin/build.json`) records what was built; later runs reuse it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The versions of everything the recorder builds, in one object. */
export const VERSIONS = {
  kubernetes: 'v1.37.2',
  etcd: 'v3.7.3',
  helm: 'v3.22.0',
  kwok: 'v0.8.0',
} as const;

/**
 * k8s.io/kubernetes requires its staging modules at v0.0.0 and points them at ./staging with
 * `replace`, which Go ignores in a dependency; each must be pinned to the matching v0.x.y.
 * (The list is the `replace` block of k8s.io/kubernetes's go.mod.)
 */
export const KUBERNETES_STAGING = [
  'api', 'apiextensions-apiserver', 'apimachinery', 'apiserver', 'cli-runtime', 'client-go', 'cloud-provider',
  'cluster-bootstrap', 'code-generator', 'component-base', 'component-helpers', 'controller-manager', 'cri-api',
  'cri-client', 'cri-streaming', 'csi-translation-lib', 'dynamic-resource-allocation', 'endpointslice', 'externaljwt',
  'kms', 'kube-aggregator', 'kube-controller-manager', 'kube-proxy', 'kube-scheduler', 'kubectl', 'kubelet', 'metrics',
  'mount-utils', 'pod-security-admission', 'sample-apiserver', 'sample-cli-plugin', 'sample-controller', 'streaming',
] as const;

export type Binary = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kubectl' | 'helm' | 'kwok';
export const BINARIES: readonly Binary[] = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'helm', 'kwok'];

export interface BuildModule {
  /** folder under build/ */
  name: string;
  /** files of the generated module */
  files: Record<string, string>;
  /** go build package arguments and the binaries they produce */
  packages: string[];
  binaries: Binary[];
  /** output: a directory (several packages) or the binary path (one package) */
  multi: boolean;
  /** -X settings that give the binaries their release version (what release builds set) */
  versionFlags: string[];
}

/** The linker flags of a module: stripped, plus its version variables. */
export function ldflags(m: BuildModule): string {
  return ['-s', '-w', ...m.versionFlags.map((x) => `-X '${x}'`)].join(' ');
}

function toolsFile(imports: string[]): string {
  return ['//go:build tools', '', 'package tools', '', 'import (', ...imports.map((i) => `\t_ "${i}"`), ')', ''].join('\n');
}

/** The generated build modules, one per upstream module. Pure: unit-testable. */
export function buildModules(v: typeof VERSIONS = VERSIONS): BuildModule[] {
  const minor = v.kubernetes.replace(/^v1\./, 'v0.');
  const [, major, kMinor] = /^v(\d+)\.(\d+)\./.exec(v.kubernetes)!;
  // what Kubernetes' hack/lib/version.sh sets; the commit is unknown to the module proxy
  const k8sVersion = ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version'].flatMap((pkg) => [
    `${pkg}.gitVersion=${v.kubernetes}`, `${pkg}.gitMajor=${major}`, `${pkg}.gitMinor=${kMinor}`, `${pkg}.gitTreeState=clean`, `${pkg}.gitCommit=`,
  ]);
  const k8sCmds = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'].map((c) => `k8s.io/kubernetes/cmd/${c}`);
  const k8sMod = [
    'module kontext.local/record/kubernetes', '', 'go 1.26.0', '', `require k8s.io/kubernetes ${v.kubernetes}`, '',
    'replace (', ...KUBERNETES_STAGING.map((m) => `\tk8s.io/${m} => k8s.io/${m} ${minor}`), ')', '',
  ].join('\n');
  return [
    {
      name: 'etcd', multi: false, versionFlags: [], packages: ['.'], binaries: ['etcd'],
      files: {
        'go.mod': `module kontext.local/record/etcd\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 ${v.etcd}\n`,
        // etcd's own main module uses local replaces, so it is not buildable as a dependency;
        // its server package exposes the same entry point the etcd binary calls.
        'main.go': 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n',
      },
    },
    { name: 'kubernetes', multi: true, versionFlags: k8sVersion, packages: k8sCmds, binaries: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'], files: { 'go.mod': k8sMod, 'tools.go': toolsFile(k8sCmds) } },
    {
      name: 'helm', multi: false, versionFlags: [`helm.sh/helm/v3/internal/version.version=${v.helm}`, 'helm.sh/helm/v3/internal/version.gitTreeState=clean'], packages: ['helm.sh/helm/v3/cmd/helm'], binaries: ['helm'],
      files: { 'go.mod': `module kontext.local/record/helm\n\ngo 1.26.0\n\nrequire helm.sh/helm/v3 ${v.helm}\n`, 'tools.go': toolsFile(['helm.sh/helm/v3/cmd/helm']) },
    },
    {
      name: 'kwok', multi: false, versionFlags: [], packages: ['sigs.k8s.io/kwok/cmd/kwok'], binaries: ['kwok'],
      files: { 'go.mod': `module kontext.local/record/kwok\n\ngo 1.26.0\n\nrequire sigs.k8s.io/kwok ${v.kwok}\n`, 'tools.go': toolsFile(['sigs.k8s.io/kwok/cmd/kwok']) },
    },
  ];
}

export interface BuildStamp { versions: typeof VERSIONS; builtAt: string; go: string; binaries: Record<string, { bytes: number; seconds: number }> }

export function binDir(cacheDir: string): string { return path.join(cacheDir, 'bin'); }
export function binPath(cacheDir: string, b: Binary): string { return path.join(binDir(cacheDir), b); }

export function readStamp(cacheDir: string): BuildStamp | undefined {
  const p = path.join(binDir(cacheDir), 'build.json');
  if (!existsSync(p)) return undefined;
  try { return JSON.parse(readFileSync(p, 'utf8')) as BuildStamp; } catch { return undefined; }
}

export interface CheckResult { ok: boolean; problems: string[]; present: Binary[] }

/** Which binaries of the cached build exist and match the pinned versions (no Go, no network). */
export function checkCache(cacheDir: string): CheckResult {
  const problems: string[] = [];
  const present: Binary[] = [];
  for (const b of BINARIES) {
    const p = binPath(cacheDir, b);
    if (existsSync(p) && statSync(p).size > 0 && (statSync(p).mode & 0o111)) present.push(b);
    else problems.push(`missing ${p}`);
  }
  const stamp = readStamp(cacheDir);
  if (!stamp) problems.push(`no build stamp ${path.join(binDir(cacheDir), 'build.json')}`);
  else for (const [k, v] of Object.entries(VERSIONS)) if ((stamp.versions as Record<string, string>)[k] !== v) problems.push(`${k}: cached ${(stamp.versions as Record<string, string>)[k]}, wanted ${v}`);
  return { ok: problems.length === 0, problems, present };
}

/** Progress of a `go build -v`: it names each package on its own line as it compiles it. */
export function compiledPackages(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (/^[A-Za-z0-9][\w.\-~]*(\/[\w.\-~]+)*$/.test(line.trim())) n++;
  return n;
}

interface Heartbeat { everyMs: number; report: (output: string, seconds: number) => void }

function run(cmd: string, args: string[], cwd: string, logFile: string, env: NodeJS.ProcessEnv, beat?: Heartbeat): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('nice', ['-n', '10', cmd, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    let all = '';
    const t0 = Date.now();
    const timer = beat ? setInterval(() => beat.report(all, Math.round((Date.now() - t0) / 1000)), beat.everyMs) : undefined;
    const keep = (d: Buffer) => { const s = d.toString(); tail = (tail + s).slice(-4000); if (beat) all += s; writeFileSync(logFile, d, { flag: 'a' }); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (e) => { clearInterval(timer); reject(e); });
    child.on('exit', (code) => {
      clearInterval(timer);
      if (code === 0) resolve(all); else reject(new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${code}:\n${tail}`));
    });
  });
}

/** stdout of a command, '' when it fails (for progress estimates only) */
function output(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve) => {
    const c = spawn('nice', ['-n', '10', cmd, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'ignore'] });
    let s = '';
    c.stdout.on('data', (d) => { s += d; });
    c.on('exit', (code) => resolve(code === 0 ? s : ''));
    c.on('error', () => resolve(''));
  });
}

/** Builds whatever is missing. Progress lines go to `log`. Takes tens of minutes the first time. */
export async function buildAll(cacheDir: string, log: (m: string) => void, opts: { force?: boolean } = {}): Promise<BuildStamp> {
  const prev = readStamp(cacheDir);
  const stale = !prev || JSON.stringify(prev.versions) !== JSON.stringify(VERSIONS);
  const out = binDir(cacheDir);
  mkdirSync(out, { recursive: true });
  const env = { ...process.env, GOFLAGS: '-mod=mod' };
  const stamp: BuildStamp = { versions: { ...VERSIONS }, builtAt: new Date().toISOString(), go: '', binaries: { ...(stale ? {} : prev!.binaries) } };
  for (const m of buildModules()) {
    const have = m.binaries.every((b) => existsSync(binPath(cacheDir, b)));
    if (have && !stale && !opts.force) { log(`build: ${m.binaries.join(', ')} cached`); continue; }
    const dir = path.join(cacheDir, 'build', m.name);
    mkdirSync(dir, { recursive: true });
    for (const [f, text] of Object.entries(m.files)) {
      // keep a go.mod that `go mod tidy` already filled in when it pins the same requirement
      const p = path.join(dir, f);
      if (f === 'go.mod' && existsSync(p) && readFileSync(p, 'utf8').startsWith(text.split('\n\n').slice(0, 3).join('\n\n'))) continue;
      writeFileSync(p, text);
    }
    const logFile = path.join(cacheDir, 'build', `${m.name}.log`);
    const t0 = Date.now();
    log(`build: ${m.binaries.join(', ')} (go mod tidy; log ${logFile})`);
    await run('go', ['mod', 'tidy'], dir, logFile, env);
    // how many packages the build compiles (standard library included: a fresh cache compiles it too)
    const total = (await output('go', ['list', '-deps', ...m.packages], dir, env)).split('\n').filter(Boolean).length;
    log(`build: ${m.binaries.join(', ')} (go build${total ? `, ${total} packages` : ''}; the Kubernetes binaries take a long while, progress every minute)`);
    const o = m.multi ? out + path.sep : binPath(cacheDir, m.binaries[0]!);
    const report = (text: string, secs: number) => {
      const n = compiledPackages(text);
      log(`build: ${m.binaries.join(', ')}: ${n}${total ? `/${total}` : ''} packages compiled (${total ? `${Math.min(99, Math.floor((100 * n) / total))}%, ` : ''}${Math.floor(secs / 60)} min; cached ones are not counted)`);
    };
    await run('go', ['build', '-v', '-trimpath', `-ldflags=${ldflags(m)}`, '-o', o, ...m.packages], dir, logFile, env, { everyMs: 60_000, report });
    const secs = Math.round((Date.now() - t0) / 1000);
    for (const b of m.binaries) stamp.binaries[b] = { bytes: statSync(binPath(cacheDir, b)).size, seconds: secs };
    log(`build: ${m.binaries.join(', ')} done in ${secs}s`);
  }
  stamp.go = await new Promise<string>((resolve) => {
    const c = spawn('go', ['version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let s = '';
    c.stdout.on('data', (d) => { s += d; });
    c.on('exit', () => resolve(s.trim()));
    c.on('error', () => resolve(''));
  });
  writeFileSync(path.join(out, 'build.json'), JSON.stringify(stamp, null, 2) + '\n');
  return stamp;
}

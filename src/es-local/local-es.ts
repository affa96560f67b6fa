/**
 * A real, local Elasticsearch without Docker: the `integ-test-zip` distribution from Maven
 * Central (fetched with Maven into ~/.m2), unpacked under .kontext/es, started on loopback with
 * its own data dir, waited on until green, and stopped cleanly. Elasticsearch refuses to run as
 * root, so under root the files are handed to `nobody` and the JVM runs through setpriv.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync, rmSync, writeFileSync, readFileSync, chmodSync } from 'node:fs';
import { homedir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { log } from '../util/log.ts';

export const ES_VERSION = process.env.KONTEXT_ES_VERSION ?? '8.19.7';
export const ES_ARTIFACT = `org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ES_VERSION}:zip`;
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ES_BASE = path.join(PROJECT_ROOT, '.kontext', 'es');

export interface LocalEsOptions {
  /** HTTP port; 0 = pick a free one */
  port?: number;
  /** data directory name under .kontext/es (fresh = removed first) */
  dataName?: string;
  fresh?: boolean;
  heap?: string;
  startTimeoutMs?: number;
  /** delete the data dir after stop (test runs) */
  removeOnStop?: boolean;
}

export interface LocalEs {
  url: string;
  pid: number;
  dataDir: string;
  stop(): Promise<void>;
}

function sh(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).slice(-2000)}`);
  return r.stdout;
}

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** JAVA home for ES: ES_JAVA_HOME, JAVA_HOME, else the `java` on PATH. */
export function javaHome(): string {
  for (const v of [process.env.ES_JAVA_HOME, process.env.JAVA_HOME]) if (v && existsSync(path.join(v, 'bin', 'java'))) return v;
  const java = which('java');
  if (!java) throw new Error('no Java found: install a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless) or set JAVA_HOME');
  return path.dirname(path.dirname(realpathSync(java)));
}

/** Path of the zip in the local Maven repository, fetching it with Maven when missing. */
export function fetchDistribution(): string {
  const repo = process.env.MAVEN_REPO ?? path.join(homedir(), '.m2', 'repository');
  const zip = path.join(repo, 'org/elasticsearch/distribution/integ-test-zip/elasticsearch', ES_VERSION, `elasticsearch-${ES_VERSION}.zip`);
  if (existsSync(zip)) return zip;
  if (!which('mvn')) throw new Error(`Elasticsearch ${ES_VERSION} is not in ${repo} and Maven (mvn) is not installed: install Maven or set ELASTICSEARCH_URL`);
  log.info('fetching Elasticsearch from Maven Central', { artifact: ES_ARTIFACT });
  sh('mvn', ['-q', '-B', 'dependency:get', `-Dartifact=${ES_ARTIFACT}`, '-Dtransitive=false']);
  if (!existsSync(zip)) throw new Error(`Maven reported success but ${zip} is missing`);
  return zip;
}

/** Unpacked ES home under .kontext/es, unpacking on first use. */
export function installDistribution(): string {
  const home = path.join(ES_BASE, `elasticsearch-${ES_VERSION}`);
  if (existsSync(path.join(home, 'bin', 'elasticsearch'))) return home;
  const zip = fetchDistribution();
  mkdirSync(ES_BASE, { recursive: true });
  const tmp = path.join(ES_BASE, `.unpack-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  if (which('unzip')) sh('unzip', ['-q', zip, '-d', tmp]);
  else sh(path.join(javaHome(), 'bin', 'jar'), ['xf', zip], { cwd: tmp });
  const inner = readdirSync(tmp).find((d) => d.startsWith('elasticsearch-'));
  if (!inner) throw new Error(`unexpected layout in ${zip}`);
  sh('mv', [path.join(tmp, inner), home]);
  rmSync(tmp, { recursive: true, force: true });
  for (const f of readdirSync(path.join(home, 'bin'))) chmodSync(path.join(home, 'bin', f), 0o755);
  return home;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

async function waitGreen(url: string, child: ChildProcess, timeoutMs: number, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | null = null;
  child.once('exit', (code) => { exited = code ?? -1; });
  while (Date.now() < deadline) {
    if (exited !== null) {
      const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n') : '';
      throw new Error(`Elasticsearch exited with code ${exited} while starting:\n${tail}`);
    }
    try {
      const r = await fetch(`${url}/_cluster/health?wait_for_status=green&timeout=2s`);
      if (r.ok) {
        const h = (await r.json()) as { status: string };
        if (h.status === 'green') return;
      }
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`Elasticsearch did not turn green within ${timeoutMs} ms (log: ${logFile})`);
}

/** Starts a local Elasticsearch and resolves when it is green. */
export async function startLocalEs(opts: LocalEsOptions = {}): Promise<LocalEs> {
  const home = installDistribution();
  const port = opts.port || (await freePort());
  const transport = await freePort();
  const dataDir = path.join(ES_BASE, opts.dataName ?? 'data');
  const logsDir = `${dataDir}-logs`;
  if (opts.fresh) { rmSync(dataDir, { recursive: true, force: true }); rmSync(logsDir, { recursive: true, force: true }); }
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(logsDir, { recursive: true });
  const tmpDir = `${dataDir}-tmp`;
  mkdirSync(tmpDir, { recursive: true });
  const esArgs = [
    '-E', 'discovery.type=single-node',
    '-E', 'xpack.security.enabled=false',
    '-E', 'network.host=127.0.0.1',
    '-E', `http.port=${port}`,
    '-E', `transport.port=${transport}`,
    '-E', `path.data=${dataDir}`,
    '-E', `path.logs=${logsDir}`,
    '-E', 'cluster.routing.allocation.disk.threshold_enabled=false',
    '-E', 'action.destructive_requires_name=false',
    '-E', `node.name=kontext-local`,
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ES_JAVA_HOME: javaHome(),
    ES_JAVA_OPTS: `-Xms${opts.heap ?? '1g'} -Xmx${opts.heap ?? '1g'}`,
    ES_TMPDIR: tmpDir,
  };
  delete env.JAVA_TOOL_OPTIONS;
  let cmd = path.join(home, 'bin', 'elasticsearch');
  let args = esArgs;
  if (isRoot()) {
    // Elasticsearch will not run as root: run it as nobody.
    sh('chown', ['-R', 'nobody:nogroup', home, dataDir, logsDir, tmpDir]);
    env.HOME = tmpDir;
    args = ['--reuid=nobody', '--regid=nogroup', '--clear-groups', cmd, ...esArgs];
    cmd = 'setpriv';
  }
  const stdoutLog = path.join(logsDir, 'console.log');
  const out = (await import('node:fs')).openSync(stdoutLog, 'w');
  const child = spawn(cmd, args, { env, stdio: ['ignore', out, out], detached: true });
  const url = `http://127.0.0.1:${port}`;
  writeFileSync(path.join(ES_BASE, `${opts.dataName ?? 'data'}.pid`), `${child.pid}\n${url}\n`);
  try {
    await waitGreen(url, child, opts.startTimeoutMs ?? 180_000, stdoutLog);
  } catch (e) {
    try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
    throw e;
  }
  child.unref();
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try { process.kill(-child.pid!, 'SIGTERM'); } catch { return; }
    const t = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 20_000);
    await exited;
    clearTimeout(t);
    rmSync(path.join(ES_BASE, `${opts.dataName ?? 'data'}.pid`), { force: true });
    if (opts.removeOnStop) for (const d of [dataDir, logsDir, tmpDir]) rmSync(d, { recursive: true, force: true });
  };
  return { url, pid: child.pid!, dataDir, stop };
}

/** A local ES started earlier by `kontext es start`, if it is still answering. */
export async function runningLocalEs(dataName = 'data'): Promise<{ url: string; pid: number } | undefined> {
  const f = path.join(ES_BASE, `${dataName}.pid`);
  if (!existsSync(f)) return undefined;
  const [pid, url] = readFileSync(f, 'utf8').trim().split('\n');
  try {
    const r = await fetch(`${url}/_cluster/health`);
    if (r.ok) return { url: url!, pid: Number(pid) };
  } catch { /* stale */ }
  return undefined;
}

export async function stopLocalEsByPid(dataName = 'data'): Promise<boolean> {
  const running = await runningLocalEs(dataName);
  if (!running) return false;
  try { process.kill(-running.pid, 'SIGTERM'); } catch { try { process.kill(running.pid, 'SIGTERM'); } catch { return false; } }
  for (let i = 0; i < 80; i++) {
    try { process.kill(running.pid, 0); } catch { break; }
    await new Promise((r) => setTimeout(r, 250));
  }
  rmSync(path.join(ES_BASE, `${dataName}.pid`), { force: true });
  return true;
}

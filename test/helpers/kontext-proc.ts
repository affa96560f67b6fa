/**
 * `kontext` as a child process for fault tests: serve on fixed ports (so a restarted process
 * is found by the same peer), kill -9, SIGTERM, and `kontext ingest`; plus what the tests
 * read back from the store (every member document and summary of a prefix).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@elastic/elasticsearch';
import { esUrl } from './es.ts';
import { indexNames, type EsContextSource, type EsMemberSource } from '../../src/store/codec.ts';
import { scanMembers } from '../../src/store/read.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/kontext.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

export const SERVE_FLAGS = ['--flush-interval', '200ms', '--log-level', 'warn', '--no-auth', '--http-host', '127.0.0.1', '--http-port', '0', '--forward-host', '127.0.0.1'];

export interface Served {
  proc: ChildProcess;
  stderr: string[];
  /** resolves with the exit code / signal */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `kontext serve` and waits until its forward port accepts connections. */
export async function serve(prefix: string, forwardPort: number, extra: string[] = [], timeoutMs = 90_000, elasticsearchUrl = esUrl()): Promise<Served> {
  const proc = spawn(process.execPath, [BIN, 'serve', ...SERVE_FLAGS, '--forward-port', String(forwardPort), '--index-prefix', prefix, ...extra], {
    cwd: ROOT, env: { ...process.env, ELASTICSEARCH_URL: elasticsearchUrl }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stderr: string[] = [];
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => { stderr.push(d); if (stderr.length > 2000) stderr.shift(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited.then(() => { gone = true; });
  while (!(await portOpen(forwardPort))) {
    if (gone) throw new Error(`kontext serve exited during start-up: ${stderr.join('').slice(-2000)}`);
    if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`kontext serve did not listen within ${timeoutMs} ms`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, stderr, exited };
}

export async function kill(s: Served, signal: NodeJS.Signals): Promise<void> {
  s.proc.kill(signal);
  await s.exited;
}

/** `kontext ingest FILE` with the test settings; resolves with its exit code and output. */
export async function ingest(prefix: string, file: string, extra: string[] = []): Promise<{ code: number | null; out: string; err: string }> {
  const proc = spawn(process.execPath, [BIN, 'ingest', '--no-progress', '--log-level', 'warn', '--index-prefix', prefix, ...extra, file], {
    cwd: ROOT, env: { ...process.env, ELASTICSEARCH_URL: esUrl() }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = ''; let err = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { err += d; });
  const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  return { code, out, err };
}

/** SIGSTOP / SIGCONT the test Elasticsearch (its whole process group); undefined when not ours. */
export function esProcess(): { pause(): void; resume(): void } | undefined {
  const pid = Number(process.env.KONTEXT_TEST_ES_PID);
  if (!pid) return undefined;
  return {
    pause() { process.kill(-pid, 'SIGSTOP'); },
    resume() { process.kill(-pid, 'SIGCONT'); },
  };
}

export interface StoreState {
  /** auditID → context id, from the member documents */
  owner: Map<string, string>;
  summaries: Map<string, EsContextSource>;
  /** member documents seen (the member index's _id is the auditID, so > owner.size is impossible) */
  memberDocs: number;
}

export async function readStore(client: Client, prefix: string): Promise<StoreState> {
  const names = indexNames(prefix);
  await client.indices.refresh({ index: [names.contexts, names.members] });
  const owner = new Map<string, string>();
  let memberDocs = 0;
  for await (const page of scanMembers(client, prefix, { match_all: {} })) {
    for (const m of page as EsMemberSource[]) { memberDocs++; owner.set(m.auditID, m.contextId); }
  }
  const summaries = new Map<string, EsContextSource>();
  const res = await client.search<EsContextSource>({ index: names.contexts, size: 10_000, query: { match_all: {} } });
  for (const h of res.hits.hits) summaries.set(h._id!, h._source!);
  return { owner, summaries, memberDocs };
}

/** The contexts as sets of auditIDs, canonical (sorted members, sorted contexts). */
export function partition(owner: Map<string, string>): string[] {
  const groups = new Map<string, string[]>();
  for (const [a, c] of owner) { let g = groups.get(c); if (!g) groups.set(c, (g = [])); g.push(a); }
  return [...groups.values()].map((g) => g.sort().join(',')).sort();
}

/** Contexts of `a` that are not exactly contexts of `b`. */
export function differing(a: string[], b: string[]): number {
  const set = new Set(b);
  return a.filter((x) => !set.has(x)).length;
}

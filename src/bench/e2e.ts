/**
 * End to end: a forward peer replays a simulated audit log as fast as acks allow (a bounded
 * window of chunks in flight, each acked only after Elasticsearch stored it) into
 *
 *  - kontext: a real `kontext serve` child process (forward input → normalize → label →
 *    cluster → Elasticsearch), and
 *  - the raw path it replaces: a child with the same forward input that bulk-indexes the raw
 *    events with an integration-like keyword template (raw-forward.ts),
 *
 * both against the same Elasticsearch, alternated in the same run; kontext twice, with its
 * model's inference on a worker thread (`--workers 1`, the default) and with `--workers 0`
 * (everything on the main thread). The peer counts each chunk's ack once: a repeated ack, or
 * one for a chunk never sent, neither frees a window slot nor ends the replay early, and is
 * reported (target 0). A real Fluent Bit peer (FLUENT_BIT_BIN) is NOT implemented: with the
 * variable set the bench says so and replays with the built-in peer. Reported per path: events/s, CPU seconds per 1k events of the path's process
 * and of Elasticsearch (utime + stime from /proc/<pid>/stat), peak RSS, the load average
 * during the run; and every auditID resolving in the store.
 *
 * KONTEXT_BENCH_CPU_PROF=1 runs the kontext child under `--cpu-prof` and writes a top-frames
 * table (self time) to bench-results/e2e-profile.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { decode, encode } from '@msgpack/msgpack';
import type { BenchOptions, BenchResult } from './types.ts';
import { simulate } from '../simulate/index.ts';
import { createEsClient } from '../store/es-client.ts';
import { FrameScanner } from '../sources/forward/msgpack.ts';
import { EventTime, extensionCodec } from '../sources/forward/protocol.ts';
import { PROJECT_ROOT } from '../es-local/local-es.ts';
import { memberIdOf } from '../store/codec.ts';
import { splitScopedId } from '../clusters/names.ts';
import type { AuditEvent } from '../types/audit.ts';

export const E2E_SEED = 17;
const CHUNK_EVENTS = 512;
const WINDOW_CHUNKS = 64;
/** the latency run: a steady rate, in small chunks (Fluent Bit flushes every second or so) */
const LATENCY_RATE = 5000;
const LATENCY_CHUNK = 100;
const TICK = 100; // clock ticks per second on Linux (sysconf(_SC_CLK_TCK))

const pack = (v: unknown) => { const u = encode(v, { extensionCodec }); return Buffer.from(u.buffer, u.byteOffset, u.byteLength); };

/** PackedForward chunks of Fluent Bit ≥5.0.5 shape: `[tag, entries, {chunk, size}]`, entries `[[EventTime, {}], record]` */
export function encodeChunks(events: AuditEvent[], size = CHUNK_EVENTS, tag = 'kube.audit'): Buffer[] {
  const out: Buffer[] = [];
  const now = Date.now();
  for (let i = 0; i < events.length; i += size) {
    const part = events.slice(i, i + size);
    const entries = Buffer.concat(part.map((e) => pack([[EventTime.fromMillis(now), {}], e])));
    out.push(pack([tag, entries, { chunk: `c${i / size}`, size: part.length }]));
  }
  return out;
}

/** what a replay saw: wall seconds from first byte to last ack, and acks that matched no chunk waiting for one */
export interface ReplayResult { seconds: number; duplicateAcks: number; unknownAcks: number }

/** Calls `ack` with the chunk id of every forward ack frame the peer's socket receives, then `after` per read. */
function onAcks(socket: net.Socket, ack: (chunk: string) => void, after?: () => void): void {
  const scanner = new FrameScanner();
  let buf: Buffer = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    for (;;) {
      const n = scanner.scan(buf, 0, buf.length);
      if (!n) break;
      const f = decode(buf.subarray(0, n), { extensionCodec }) as { ack?: string };
      if (typeof f?.ack === 'string') ack(f.ack);
      buf = buf.subarray(n);
    }
    after?.();
  });
}

/**
 * Sends every chunk with at most `window` unacked; chunk k carries the chunk id `c<k>`
 * (encodeChunks). An ack counts only for a chunk sent and not acked yet: a second ack of the
 * same chunk (`duplicateAcks`) or an ack of a chunk never sent (`unknownAcks`) neither frees a
 * window slot nor counts toward the end, so the replay cannot finish before every chunk is acked.
 */
export async function replay(port: number, chunks: Buffer[], window = WINDOW_CHUNKS, timeoutMs = 900_000): Promise<ReplayResult> {
  const socket = await new Promise<net.Socket>((resolve, reject) => { const s = net.connect(port, '127.0.0.1', () => resolve(s)); s.once('error', reject); });
  const t0 = process.hrtime.bigint();
  try {
    let next = 0;
    const unacked = new Set<string>();
    const acked = new Set<string>();
    let duplicateAcks = 0; let unknownAcks = 0;
    let wake: () => void = () => {};
    let closed: Error | undefined;
    onAcks(socket, (ack) => {
      if (unacked.delete(ack)) acked.add(ack);
      else if (acked.has(ack)) duplicateAcks++;
      else unknownAcks++;
    }, () => wake());
    socket.on('close', () => { closed = new Error(`connection closed after ${acked.size}/${chunks.length} acks`); wake(); });
    const deadline = Date.now() + timeoutMs;
    while (acked.size < chunks.length) {
      if (closed) throw closed;
      while (unacked.size < window && next < chunks.length) {
        unacked.add(`c${next}`);
        if (!socket.write(chunks[next++]!)) await new Promise((r) => socket.once('drain', r));
      }
      await new Promise<void>((r) => { wake = r; setTimeout(r, 200); });
      if (Date.now() > deadline) throw new Error(`replay not acked within ${timeoutMs} ms (${acked.size}/${chunks.length})`);
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    // acks that arrive late (a duplicate after the last chunk's) still count
    await new Promise((r) => setTimeout(r, 200));
    return { seconds, duplicateAcks, unknownAcks };
  } finally {
    socket.destroy();
  }
}

/**
 * Sends `chunks` at a steady `eventsPerSecond` (one chunk every size/rate seconds) without
 * waiting for acks, and watches for the last auditID of every chunk in `index`: the wall time
 * from sending a chunk to its ack, and to its event being searchable there.
 */
export async function pacedLatency(port: number, chunks: Buffer[], lastIds: string[], sizes: number[], eventsPerSecond: number, url: string, index: string):
  Promise<{ ackMs: number[]; visibleMs: number[]; missing: number; seconds: number }> {
  const socket = await new Promise<net.Socket>((resolve, reject) => { const s = net.connect(port, '127.0.0.1', () => resolve(s)); s.once('error', reject); });
  const client = createEsClient({ elasticsearchUrl: url });
  const sentAt = new Map<string, number>();
  const chunkSent: number[] = [];
  const ackMs: number[] = [];
  const visibleMs: number[] = [];
  const pending = new Map<string, number>();
  onAcks(socket, (ack) => { const t = sentAt.get(ack); if (t !== undefined) { ackMs.push(Date.now() - t); sentAt.delete(ack); } });
  let polling = true;
  const poller = (async () => {
    while (polling || pending.size) {
      await new Promise((r) => setTimeout(r, 50));
      if (!pending.size) continue;
      const ids = [...pending.keys()];
      try {
        // member documents are `<cluster>/<auditID>` (kontext serve's default cluster here)
        const r = await client.search({ index, query: { ids: { values: ids.map((id) => memberIdOf(undefined, id)) } }, _source: false, size: ids.length });
        const now = Date.now();
        for (const h of r.hits.hits) {
          const id = splitScopedId(h._id!).id;
          const t = pending.get(id);
          if (t !== undefined) { visibleMs.push(now - t); pending.delete(id); }
        }
      } catch { /* index not there yet */ }
      if (!polling && Date.now() - Math.max(...chunkSent) > 60_000) break;
    }
  })();
  const t0 = Date.now();
  try {
    let due = t0;
    for (let i = 0; i < chunks.length; i++) {
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const now = Date.now();
      sentAt.set(`c${i}`, now);
      chunkSent.push(now);
      pending.set(lastIds[i]!, now);
      socket.write(chunks[i]!);
      due += (1000 * sizes[i]!) / eventsPerSecond;
    }
    const seconds = (Date.now() - t0) / 1000;
    polling = false;
    await poller;
    return { ackMs, visibleMs, missing: pending.size, seconds };
  } finally {
    polling = false;
    socket.destroy();
    await client.close();
  }
}

/** copies of `events` whose times follow one another at `rate` per second from `start` (epoch ms), stage durations kept */
export function retimed(events: AuditEvent[], start: number, rate: number): AuditEvent[] {
  return events.map((e, i) => {
    const t = start + (1000 * i) / rate;
    const received = Date.parse(e.requestReceivedTimestamp);
    const stage = e.stageTimestamp ? Date.parse(e.stageTimestamp) - received : 0;
    return { ...e, requestReceivedTimestamp: new Date(t).toISOString(), stageTimestamp: new Date(t + (Number.isFinite(stage) ? stage : 0)).toISOString() };
  });
}

export function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** utime + stime of a process (all threads), or of one of its threads (`tid`; the main thread's is the pid), in seconds */
export function cpuSeconds(pid: number, tid?: number): number {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK; // fields 14, 15 of stat(5)
}

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export interface Child { proc: ChildProcess; port: number; stderr: string[]; stdout: () => string }

export function startChild(args: string[], env: NodeJS.ProcessEnv, portRe: RegExp, timeoutMs = 180_000): Promise<Child> {
  const proc = spawn(process.execPath, args, { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`child did not start in ${timeoutMs} ms: ${stderr.join('').slice(-2000)}`)); }, timeoutMs);
    const look = (d: Buffer) => {
      out += d.toString();
      const m = portRe.exec(out);
      if (m) { clearTimeout(timer); resolve({ proc, port: Number(m[1]), stderr, stdout: () => out }); }
    };
    proc.stdout!.on('data', look);
    proc.stderr!.on('data', (d: Buffer) => { stderr.push(d.toString()); if (stderr.length > 200) stderr.shift(); look(d); });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`child exited (${code}) before listening: ${stderr.join('').slice(-2000)}`)); });
  });
}

export async function stopChild(c: Child, timeoutMs = 120_000): Promise<void> {
  if (c.proc.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => { c.proc.kill('SIGKILL'); }, timeoutMs);
    c.proc.once('exit', () => { clearTimeout(t); resolve(); });
    c.proc.kill('SIGTERM');
  });
}

type PathName = 'raw' | 'kontext' | 'kontext-workers-0';
interface Measured extends ReplayResult { cpu: number; mainCpu: number; esCpu: number; peakRss: number; load1: number }

interface PathRun {
  path: PathName;
  round: number;
  events: number;
  duplicateAcks: number;
  unknownAcks: number;
  seconds: number;
  eventsPerSecond: number;
  cpuPer1k: number;
  /** the main thread's share: what bounds events/s while the other threads have cores to run on */
  mainCpuPer1k: number;
  esCpuPer1k: number;
  peakRssMB: number;
  load1: number;
  stored: number;
}

/** samples RSS and the 1-min load average while `fn` runs */
async function measure(pid: number, esPid: number | undefined, fn: () => Promise<ReplayResult>): Promise<Measured> {
  const cpu0 = cpuSeconds(pid); const main0 = cpuSeconds(pid, pid); const es0 = esPid ? cpuSeconds(esPid) : 0;
  let peakRss = rssBytes(pid);
  const loads: number[] = [os.loadavg()[0]!];
  const sampler = setInterval(() => { try { peakRss = Math.max(peakRss, rssBytes(pid)); } catch { /* exited */ } loads.push(os.loadavg()[0]!); }, 200);
  try {
    const r = await fn();
    loads.push(os.loadavg()[0]!);
    return { ...r, cpu: cpuSeconds(pid) - cpu0, mainCpu: cpuSeconds(pid, pid) - main0, esCpu: esPid ? cpuSeconds(esPid) - es0 : NaN, peakRss, load1: loads.reduce((a, b) => a + b, 0) / loads.length };
  } finally {
    clearInterval(sampler);
  }
}

/** the sum of a counter's samples (all label sets) on a Prometheus text page */
export async function metricTotal(metricsUrl: string, name: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** bytes of the `_source` of every document in `index` (refreshed first): what is finally stored */
export async function storedSourceBytes(url: string, index: string): Promise<number> {
  const client = createEsClient({ elasticsearchUrl: url });
  try {
    await client.indices.refresh({ index });
    let bytes = 0;
    let r = await client.search({ index, scroll: '1m', size: 5000, query: { match_all: {} } });
    while (r.hits.hits.length) {
      for (const h of r.hits.hits) bytes += Buffer.byteLength(JSON.stringify(h._source));
      r = await client.scroll({ scroll_id: r._scroll_id!, scroll: '1m' });
    }
    if (r._scroll_id) await client.clearScroll({ scroll_id: r._scroll_id }).catch(() => {});
    return bytes;
  } finally { await client.close(); }
}

async function countDocs(url: string, index: string): Promise<number> {
  const client = createEsClient({ elasticsearchUrl: url });
  try {
    await client.indices.refresh({ index });
    return (await client.count({ index })).count;
  } finally { await client.close(); }
}

/** top frames by self time of a V8 .cpuprofile */
/**
 * Self time of a V8 .cpuprofile by function and by module, over the samples taken between
 * `fromUs` and `toUs` (CLOCK_MONOTONIC µs, the profiler's clock; default: the whole profile).
 */
export function topFrames(profileFile: string, n = 30, fromUs = -Infinity, toUs = Infinity): {
  rows: Array<{ self: number; pct: number; fn: string; at: string }>; modules: Array<{ self: number; pct: number; module: string }>; totalMs: number; busyMs: number;
} {
  const p = JSON.parse(readFileSync(profileFile, 'utf8')) as { startTime: number; nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>; samples: number[]; timeDeltas: number[] };
  const byNode = new Map<number, number>();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    byNode.set(p.samples[i]!, (byNode.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const byFn = new Map<string, { self: number; fn: string; at: string }>();
  const byModule = new Map<string, number>();
  let total = 0; let idle = 0;
  for (const node of p.nodes) {
    const ms = (byNode.get(node.id) ?? 0) / 1000;
    if (!ms) continue;
    total += ms;
    const cf = node.callFrame;
    if (cf.functionName === '(idle)') { idle += ms; continue; }
    const file = cf.url.replace(/^file:\/\//, '').replace(PROJECT_ROOT + '/', '');
    const at = file ? `${file}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName}@${at}`;
    const cur = byFn.get(key) ?? { self: 0, fn: cf.functionName || '(anonymous)', at };
    cur.self += ms;
    byFn.set(key, cur);
    const mod = !file ? cf.functionName || '(native)'
      : file.startsWith('src/') ? file.split('/').slice(0, 2).join('/') + (file.split('/').length > 3 ? '/' + file.split('/')[2] : '')
      : file.startsWith('node_modules/') ? file.split('/').slice(0, file.startsWith('node_modules/@') ? 3 : 2).join('/')
      : file.startsWith('node:') ? file.split(':')[0] + ':' + (file.split(':')[1]?.split('/').slice(0, 2).join('/') ?? '') : file;
    byModule.set(mod, (byModule.get(mod) ?? 0) + ms);
  }
  const busy = total - idle;
  const rows = [...byFn.values()].sort((a, b) => b.self - a.self).slice(0, n).map((r) => ({ ...r, pct: (100 * r.self) / busy }));
  const modules = [...byModule.entries()].map(([module, self]) => ({ module, self, pct: (100 * self) / busy })).sort((a, b) => b.self - a.self).slice(0, n);
  return { rows, modules, totalMs: total, busyMs: busy };
}

export async function run(o: BenchOptions): Promise<BenchResult> {
  const url = process.env.ELASTICSEARCH_URL;
  if (!url) throw new Error('e2e needs ELASTICSEARCH_URL (kontext bench starts a local Elasticsearch)');
  const durationMs = (o.quick ? 3 : 60) * 60_000;
  const rounds = o.quick ? 1 : 2;
  o.log(`simulating ${durationMs / 60_000} minutes (seed ${E2E_SEED})`);
  const events = [...simulate({ seed: E2E_SEED, durationMs })];
  const ids = new Set(events.map((e) => e.auditID));
  const chunks = encodeChunks(events);
  const bytes = chunks.reduce((n, c) => n + c.length, 0);
  o.log(`${events.length} events, ${chunks.length} chunks, ${(bytes / 2 ** 20).toFixed(0)} MiB of msgpack`);
  const client = createEsClient({ elasticsearchUrl: url });
  let esPid: number | undefined;
  try {
    const info = await client.nodes.info({ node_id: '_local', metric: 'process' });
    esPid = Object.values(info.nodes)[0]?.process?.id;
    if (esPid && !existsSync(`/proc/${esPid}/stat`)) esPid = undefined; // not on this machine
  } finally { await client.close(); }
  const fluentBit = process.env.FLUENT_BIT_BIN;
  // not implemented: the bench always replays with its own forward peer (see the module comment)
  if (fluentBit) o.log(`FLUENT_BIT_BIN is set, but a Fluent Bit peer is not implemented: the built-in forward peer replays (${fluentBit} not used)`);
  const profDir = process.env.KONTEXT_BENCH_CPU_PROF ? path.join(os.tmpdir(), `kontext-e2e-prof-${process.pid}`) : undefined;
  const tag = `bench-e2e-${process.pid}`;
  const runs: PathRun[] = [];
  const uniq = ids.size;
  const profWindow: [number, number] = [-Infinity, Infinity];
  // kontext with the model's inference on a worker thread (--workers 1, the default), and all on the main thread
  const variants: Array<{ path: PathName; args: string[] }> = [{ path: 'kontext-workers-0', args: ['--workers', '0'] }, { path: 'kontext', args: ['--workers', '1'] }];
  for (let round = 0; round < rounds; round++) {
    // raw path
    {
      const index = `${tag}-raw-${round}`;
      const c = await startChild(['--import', 'tsx', 'src/bench/raw-forward.ts', url, index], {}, /forward (\d+)/);
      try {
        const m = await measure(c.proc.pid!, esPid, () => replay(c.port, chunks).catch((e: Error) => { throw new Error(`${e.message}; raw path said: ${c.stderr.join('').slice(-1500)}`); }));
        const stored = await countDocs(url, index);
        runs.push(pathRun('raw', round, events.length, m, stored));
        o.log(`raw round ${round}: ${Math.round(events.length / m.seconds)} events/s, load ${m.load1.toFixed(2)}`);
      } finally { await stopChild(c); }
    }
    for (const v of variants) {
      const prefix = `${tag}-k${round}-${v.path}`;
      const profiled = profDir !== undefined && round === 0 && v.path === 'kontext';
      if (profiled) mkdirSync(profDir, { recursive: true });
      const args = [...(profiled ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []), 'bin/kontext.js', 'serve', '--local',
        '--forward-port', '0', '--http-port', '0', '--index-prefix', prefix, '--log-level', 'warn', ...v.args];
      const c = await startChild(args, { ELASTICSEARCH_URL: url }, /forward\s+127\.0\.0\.1:(\d+)/);
      try {
        if (profiled) profWindow[0] = Number(process.hrtime.bigint() / 1000n);
        const m = await measure(c.proc.pid!, esPid, () => replay(c.port, chunks).catch((e: Error) => { throw new Error(`${e.message}; kontext said: ${c.stderr.join('').slice(-1500)}`); }));
        const stored = await countDocs(url, `${prefix}-members`);
        if (profiled) profWindow[1] = Number(process.hrtime.bigint() / 1000n);
        runs.push(pathRun(v.path, round, events.length, m, stored));
        o.log(`${v.path} round ${round}: ${Math.round(events.length / m.seconds)} events/s, ${((m.cpu / events.length) * 1000).toFixed(3)} CPU s/1k, load ${m.load1.toFixed(2)}, ${stored}/${uniq} auditIDs stored, ${m.duplicateAcks} duplicate acks`);
      } finally { await stopChild(c); }
    }
  }
  // latency at a steady rate: a fresh kontext child, chunks of LATENCY_CHUNK events paced at LATENCY_RATE
  // live traffic: event times follow the wall clock at the paced rate (times are set when a chunk is sent)
  const latEvents = events.slice(0, Math.min(events.length, LATENCY_RATE * (o.quick ? 2 : 30)));
  const latChunks = (start: number) => encodeChunks(retimed(latEvents, start, LATENCY_RATE), LATENCY_CHUNK);
  const lastIds: string[] = []; const sizes: number[] = [];
  for (let i = 0; i < latEvents.length; i += LATENCY_CHUNK) { const part = latEvents.slice(i, i + LATENCY_CHUNK); lastIds.push(part[part.length - 1]!.auditID); sizes.push(part.length); }
  const flushMs = 1000;
  let latency: { ackMs: number[]; visibleMs: number[]; missing: number; seconds: number; load1: number; cpuPer1k: number; sentBytes: number; storedBytes: number };
  {
    const prefix = `${tag}-lat`;
    const c = await startChild(['bin/kontext.js', 'serve', '--local', '--forward-port', '0', '--http-port', '0', '--index-prefix', prefix, '--log-level', 'warn', '--flush-interval', `${flushMs}ms`],
      { ELASTICSEARCH_URL: url }, /forward\s+127\.0\.0\.1:(\d+)/);
    try {
      const cpu0 = cpuSeconds(c.proc.pid!);
      const l = await pacedLatency(c.port, latChunks(Date.now() + 200), lastIds, sizes, LATENCY_RATE, url, `${prefix}-members`);
      const cpu = cpuSeconds(c.proc.pid!) - cpu0;
      // write amplification of live traffic: every flush rewrites the summaries of open contexts
      await new Promise((r) => setTimeout(r, 2 * flushMs));
      const metricsUrl = /metrics\s+(http:\/\/\S+\/metrics)/.exec(c.stdout())?.[1];
      const sentBytes = metricsUrl ? await metricTotal(metricsUrl, 'kontext_store_bytes_sent_total') : NaN;
      const storedBytes = await storedSourceBytes(url, `${prefix}-contexts,${prefix}-members`);
      latency = { ...l, load1: os.loadavg()[0]!, cpuPer1k: (cpu / latEvents.length) * 1000, sentBytes, storedBytes };
      o.log(`live write amplification: ${sentBytes} B sent / ${storedBytes} B of _source stored = ${(sentBytes / storedBytes).toFixed(2)}`);
      o.log(`latency at ${LATENCY_RATE} events/s: p50 ${percentile(l.visibleMs, 50)} ms, p95 ${percentile(l.visibleMs, 95)} ms to visible (ack p50 ${percentile(l.ackMs, 50)} ms), ${l.missing} never seen, load ${latency.load1.toFixed(2)}`);
    } finally { await stopChild(c); }
  }
  let profileMd = '';
  if (profDir) {
    const f = readdirSync(profDir).find((x) => x.endsWith('.cpuprofile'));
    if (f) {
      const { rows, modules, totalMs, busyMs } = topFrames(path.join(profDir, f), 30, profWindow[0], profWindow[1]);
      profileMd = ['# kontext serve: where the CPU goes (end-to-end bench, `--cpu-prof`)', '',
        `${events.length} simulated events (seed ${E2E_SEED}) through forward → kontext → Elasticsearch; main thread, samples from the first chunk sent to the last ack:`,
        `${(totalMs / 1000).toFixed(1)} s sampled, ${(busyMs / 1000).toFixed(1)} s busy (${(busyMs / events.length).toFixed(3)} ms per event; load average ${os.loadavg()[0]!.toFixed(2)} at the end). Percentages of busy time.`, '',
        '## by module', '', '| self ms | % | module |', '|---|---|---|',
        ...modules.map((r) => `| ${r.self.toFixed(0)} | ${r.pct.toFixed(1)} | ${r.module} |`), '',
        '## by function', '', '| self ms | % | function | where |', '|---|---|---|---|',
        ...rows.map((r) => `| ${r.self.toFixed(0)} | ${r.pct.toFixed(1)} | ${r.fn} | ${r.at} |`)].join('\n') + '\n';
      mkdirSync(path.join(PROJECT_ROOT, 'bench-results'), { recursive: true });
      writeFileSync(path.join(PROJECT_ROOT, 'bench-results', 'e2e-profile.md'), profileMd);
      o.log('wrote bench-results/e2e-profile.md');
    }
    if (!process.env.KONTEXT_BENCH_KEEP_PROF) rmSync(profDir, { recursive: true, force: true }); else o.log(`profile kept in ${profDir}`);
  }
  const med = (p: PathName, k: keyof PathRun) => median(runs.filter((r) => r.path === p).map((r) => r[k] as number));
  const k = (key: keyof PathRun) => med('kontext', key);
  const w0 = (key: keyof PathRun) => med('kontext-workers-0', key);
  const r = (key: keyof PathRun) => med('raw', key);
  const minStored = Math.min(...runs.filter((x) => x.path !== 'raw').map((x) => x.stored));
  const extraAcks = runs.reduce((n, x) => n + x.duplicateAcks + x.unknownAcks, 0);
  const table = ['| path | round | events/s | CPU s / 1k events (process) | of it the main thread | CPU s / 1k events (Elasticsearch) | peak RSS MB | load avg (1 min) | stored | duplicate / unknown acks |', '|---|---|---|---|---|---|---|---|---|---|',
    ...runs.map((x) => `| ${x.path} | ${x.round} | ${Math.round(x.eventsPerSecond)} | ${x.cpuPer1k.toFixed(3)} | ${x.mainCpuPer1k.toFixed(3)} | ${x.esCpuPer1k.toFixed(3)} | ${x.peakRssMB} | ${x.load1.toFixed(2)} | ${x.stored} | ${x.duplicateAcks} / ${x.unknownAcks} |`)];
  return {
    name: 'e2e',
    description: `${events.length} simulated events (${durationMs / 60_000} min, seed ${E2E_SEED}, ${(bytes / 2 ** 20).toFixed(0)} MiB msgpack) replayed by a forward peer (PackedForward chunks of ${CHUNK_EVENTS}, ${WINDOW_CHUNKS} unacked at most, acks after storage, each chunk's ack counted once) into \`kontext serve\` children (--workers 1 = the default, and --workers 0) and into the raw path (same forward input, raw events bulk-indexed with a keyword template); same Elasticsearch, alternated, ${rounds} round(s); medians. Then latency: ${LATENCY_RATE} events/s steady (chunks of ${LATENCY_CHUNK}, event times = wall clock) into a fresh \`kontext serve\` with default settings (flush-interval ${flushMs} ms, reorder-wait 2 s); from sending a chunk to its last event being searchable in <prefix>-members (its summary is written right after, in the same batch); live write amplification = kontext_store_bytes_sent_total of that child / bytes of _source stored in its contexts and members.`,
    metrics: [
      { name: 'kontext_events_per_second', value: Math.round(k('eventsPerSecond')), unit: 'events/s', target: { op: '>=', value: 20_000 } },
      { name: 'kontext_workers_0_events_per_second', value: Math.round(w0('eventsPerSecond')), unit: 'events/s' },
      { name: 'speedup_workers_1_vs_0', value: round2(k('eventsPerSecond') / w0('eventsPerSecond')), unit: 'x' },
      { name: 'raw_events_per_second', value: Math.round(r('eventsPerSecond')), unit: 'events/s' },
      { name: 'ratio_to_raw', value: round2(k('eventsPerSecond') / r('eventsPerSecond')), unit: 'x', target: { op: '>=', value: 5 } },
      { name: 'kontext_cpu_s_per_1k_events', value: round3(k('cpuPer1k')), unit: 'CPU s' },
      { name: 'kontext_es_cpu_s_per_1k_events', value: round3(k('esCpuPer1k')), unit: 'CPU s' },
      { name: 'kontext_workers_0_cpu_s_per_1k_events', value: round3(w0('cpuPer1k')), unit: 'CPU s' },
      { name: 'kontext_main_thread_cpu_s_per_1k_events', value: round3(k('mainCpuPer1k')), unit: 'CPU s' },
      { name: 'kontext_workers_0_main_thread_cpu_s_per_1k_events', value: round3(w0('mainCpuPer1k')), unit: 'CPU s' },
      { name: 'main_thread_cpu_workers_1_vs_0', value: round2(k('mainCpuPer1k') / w0('mainCpuPer1k')), unit: 'x' },
      { name: 'raw_cpu_s_per_1k_events', value: round3(r('cpuPer1k')), unit: 'CPU s' },
      { name: 'raw_es_cpu_s_per_1k_events', value: round3(r('esCpuPer1k')), unit: 'CPU s' },
      { name: 'kontext_peak_rss', value: k('peakRssMB'), unit: 'MB', target: { op: '<=', value: 512 } },
      { name: 'kontext_workers_0_peak_rss', value: w0('peakRssMB'), unit: 'MB', target: { op: '<=', value: 512 } },
      { name: 'load_average_1m', value: round2(median(runs.map((x) => x.load1))), unit: 'load' },
      { name: 'latency_p50_event_to_visible', value: percentile(latency.visibleMs, 50), unit: `ms at ${LATENCY_RATE} events/s`, target: { op: '<=', value: flushMs + 500 } },
      { name: 'latency_p95_event_to_visible', value: percentile(latency.visibleMs, 95), unit: `ms at ${LATENCY_RATE} events/s`, target: { op: '<=', value: 3000 } },
      { name: 'latency_p50_event_to_ack', value: percentile(latency.ackMs, 50), unit: 'ms' },
      { name: 'latency_run_load_average_1m', value: round2(latency.load1), unit: 'load' },
      { name: 'live_write_amplification', value: round2(latency.sentBytes / latency.storedBytes), unit: `bytes sent per byte stored at ${LATENCY_RATE} events/s, flush ${flushMs} ms`, target: { op: '<=', value: 3 } },
      { name: 'auditIDs_resolving', value: minStored, unit: `of ${uniq}`, target: { op: '>=', value: uniq } },
      { name: 'acks_duplicate_or_unknown', value: extraAcks, unit: 'acks', target: { op: '<=', value: 0 } },
    ],
    markdown: table.join('\n'),
    details: { latency: { sentBytes: latency.sentBytes, storedSourceBytes: latency.storedBytes, events: latEvents.length, chunkEvents: LATENCY_CHUNK, rate: LATENCY_RATE, flushMs, seconds: latency.seconds, samples: latency.visibleMs.length, missing: latency.missing, cpuPer1k: round3(latency.cpuPer1k), ackP95: percentile(latency.ackMs, 95) }, runs, chunkEvents: CHUNK_EVENTS, windowChunks: WINDOW_CHUNKS, esPid: esPid ?? null, profile: profileMd ? 'bench-results/e2e-profile.md' : null },
  };
}

function pathRun(p: PathName, round: number, events: number, m: Measured, stored: number): PathRun {
  return {
    path: p, round, events, seconds: m.seconds, duplicateAcks: m.duplicateAcks, unknownAcks: m.unknownAcks, eventsPerSecond: events / m.seconds,
    cpuPer1k: (m.cpu / events) * 1000, mainCpuPer1k: (m.mainCpu / events) * 1000, esCpuPer1k: (m.esCpu / events) * 1000,
    peakRssMB: Math.round(m.peakRss / 2 ** 20), load1: m.load1, stored,
  };
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
const round2 = (x: number) => Math.round(x * 100) / 100;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

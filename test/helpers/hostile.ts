/**
 * Hostile forward input: bomb shapes, a `kontext serve` child to throw them at, its peak RSS
 * (VmHWM, reset between shapes), and a canary peer that keeps sending valid events and
 * timing their acks. Used by test/forward-hostile.test.ts (bounded) and scripts/fuzz-forward.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { auditEvent } from '../sources-helpers.ts';
import { ForwardClient, pack } from './forward-client.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TAG = 'kube.audit';
const MB = 1 << 20;

/** gzip of `total` bytes of `pattern` repeated, written 1 MiB at a time (never held inflated) */
export async function gzipRepeated(pattern: Uint8Array, total: number): Promise<Buffer> {
  const gz = zlib.createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (d: Buffer) => out.push(d));
  const block = Buffer.alloc(Math.min(MB, total), pattern);
  for (let left = total; left > 0; left -= block.length) {
    if (!gz.write(left >= block.length ? block : block.subarray(0, left))) await new Promise((r) => gz.once('drain', r));
  }
  const ended = new Promise<void>((r) => gz.once('end', r));
  gz.end();
  await ended;
  return Buffer.concat(out);
}

/** a frame header for bin32 of `len` bytes */
const bin32 = (len: number) => { const h = Buffer.alloc(5); h[0] = 0xc6; h.writeUInt32BE(len >>> 0, 1); return h; };
const compressedFrame = (gz: Buffer) => Buffer.concat([Buffer.from([0x93]), pack(TAG), bin32(gz.length), gz, pack({ compressed: 'gzip', chunk: 'bomb' })]);
const packedFrame = (entries: Buffer) => Buffer.concat([Buffer.from([0x93]), pack(TAG), bin32(entries.length), entries, pack({ chunk: 'bomb' })]);
const TINY_ENTRY = pack([0, {}]);

export interface Bomb {
  name: string;
  /** the bytes sent after the handshake */
  build(scale: number): Promise<Buffer>;
  /** any of these rejection reasons is right */
  reasons: string[];
}

/** `scale` 1 = the sizes of the reported attacks (250 MB inflated); the CI test uses smaller ones where they cost time. */
export const BOMBS: Bomb[] = [
  { name: 'gzip: many tiny entries ([0,{}] × 87 M, 250 MB inflated)', reasons: ['too-many-entries', 'decompression-ratio', 'oversized'],
    build: async (s) => compressedFrame(await gzipRepeated(TINY_ENTRY, Math.round(250 * MB * s))) },
  { name: 'gzip: zeros (250 MB inflated)', reasons: ['invalid-message', 'decompression-ratio', 'oversized'],
    build: async (s) => compressedFrame(await gzipRepeated(Buffer.from([0]), Math.round(250 * MB * s))) },
  { name: 'gzip: nested gzip (gzip of gzip of tiny entries)', reasons: ['invalid-message', 'malformed-msgpack', 'decompression-ratio', 'oversized'],
    build: async (s) => compressedFrame(zlib.gzipSync(zlib.gzipSync(await gzipRepeated(TINY_ENTRY, Math.round(250 * MB * s))))) },
  { name: 'gzip: 400 concatenated members of tiny entries', reasons: ['too-many-entries', 'decompression-ratio', 'oversized'],
    build: async (s) => { const m = await gzipRepeated(TINY_ENTRY, Math.round(MB * s)); return compressedFrame(Buffer.concat(Array.from({ length: 400 }, () => m))); } },
  { name: 'gzip: entry declaring a 4 GB string', reasons: ['oversized'],
    build: async () => compressedFrame(zlib.gzipSync(Buffer.concat([Buffer.from([0x92, 0x00, 0x81, 0xa1, 0x61, 0xdb, 0xff, 0xff, 0xff, 0xff]), Buffer.alloc(1000, 0x61)]))) },
  { name: 'gzip: entries nested 100k deep', reasons: ['too-deep'],
    build: async () => compressedFrame(zlib.gzipSync(Buffer.concat([Buffer.from([0x92, 0x00]), Buffer.alloc(100_000, 0x91), Buffer.from([0x80])]))) },
  { name: 'frame declaring a 4 GB bin', reasons: ['oversized'],
    build: async () => Buffer.concat([Buffer.from([0x93]), pack(TAG), bin32(0xffffffff), Buffer.alloc(1000)]) },
  { name: 'map declaring 2^31 pairs', reasons: ['oversized'],
    build: async () => Buffer.concat([Buffer.from([0x93]), pack(TAG), pack(0), Buffer.from([0xdf, 0x7f, 0xff, 0xff, 0xff])]) },
  { name: 'record nested 100k deep', reasons: ['too-deep'],
    build: async () => Buffer.concat([Buffer.from([0x93]), pack(TAG), pack(0), Buffer.from([0x81, 0xa1, 0x61]), Buffer.alloc(100_000, 0x91), Buffer.from([0x80])]) },
  { name: 'PackedForward: 16 MB of tiny entries, uncompressed', reasons: ['too-many-entries', 'oversized'],
    build: async (s) => packedFrame(Buffer.alloc(Math.round(16 * MB * s / 3) * 3, TINY_ENTRY)) },
];

/** Peak and current RSS of a process (bytes), from /proc. */
export function rssOf(pid: number): { peak: number; now: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
  return { peak: kb('VmHWM'), now: kb('VmRSS') };
}

/** Resets the peak RSS (VmHWM) of a process we own. */
export function resetPeak(pid: number): void {
  try { writeFileSync(`/proc/${pid}/clear_refs`, '5'); } catch { /* older kernels: the peak is since start */ }
}

export interface ServeChild {
  proc: ChildProcess;
  pid: number;
  forwardPort: number;
  httpUrl: string;
  token: string;
  sharedKey: string;
  /** JSON log lines so far */
  logs: Record<string, unknown>[];
  exited: boolean;
  stop(): Promise<void>;
}

/** Spawns `kontext serve` (bin: a kontext checkout's bin/kontext.js) on free loopback ports, against ELASTICSEARCH_URL. */
export async function startServe(o: { esUrl: string; prefix: string; bin?: string; nodeArgs?: string[]; extra?: string[] }): Promise<ServeChild> {
  const token = 'fuzz-token'; const sharedKey = 'fuzz-shared-key';
  const proc = spawn(process.execPath, [...(o.nodeArgs ?? []), o.bin ?? path.join(ROOT, 'bin/kontext.js'), 'serve',
    '--forward-host', '127.0.0.1', '--forward-port', '0', '--http-host', '127.0.0.1', '--http-port', '0',
    '--forward-shared-key', sharedKey, '--auth-tokens', token, '--index-prefix', o.prefix,
    '--flush-interval', '200ms', '--reorder-wait', '200ms', '--log-level', 'info', ...(o.extra ?? [])], {
    env: { ...process.env, ELASTICSEARCH_URL: o.esUrl }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let rest = '';
  const child: ServeChild = {
    proc, pid: proc.pid!, forwardPort: 0, httpUrl: '', token, sharedKey, logs, exited: false,
    stop: async () => {
      if (child.exited) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      await new Promise((r) => proc.once('exit', r));
      clearTimeout(t);
    },
  };
  proc.once('exit', () => { child.exited = true; });
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => {
    rest += d;
    const lines = rest.split('\n');
    rest = lines.pop()!;
    for (const l of lines) { try { logs.push(JSON.parse(l) as Record<string, unknown>); } catch { logs.push({ msg: l }); } }
  });
  const end = Date.now() + 120_000;
  while (!child.httpUrl) {
    if (child.exited) throw new Error(`kontext serve exited: ${logs.slice(-5).map((l) => l.msg).join(' | ')}`);
    if (Date.now() > end) { await child.stop(); throw new Error('kontext serve did not start within 120 s'); }
    const run = logs.find((l) => l.msg === 'kontext is running');
    if (run) {
      child.httpUrl = String(run.graphql).replace(/\/graphql$/, '');
      child.forwardPort = Number(String(run.forward).split(':').pop());
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

/** kontext_ingest_rejected_total{source="forward"} by reason, from /metrics. */
export async function rejectedByReason(c: ServeChild): Promise<Record<string, number>> {
  const text = await (await fetch(`${c.httpUrl}/metrics`, { headers: { authorization: `Bearer ${c.token}` } })).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^kontext_ingest_rejected_total\{([^}]*)\} (\d+)/gm)) {
    if (!/source="forward"/.test(m[1]!)) continue;
    const reason = /reason="([^"]*)"/.exec(m[1]!)?.[1];
    if (reason) out[reason] = Number(m[2]);
  }
  return out;
}

/** A peer that sends one valid event per `everyMs` with a chunk id and times the acks. */
export class Canary {
  readonly latencies: number[] = [];
  failures = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly c: ServeChild, private readonly everyMs = 200) {}

  start(): void {
    this.loop = (async () => {
      let peer: ForwardClient | undefined;
      let n = 0;
      while (!this.stopped) {
        try {
          peer ??= await ForwardClient.connect(this.c.forwardPort, { sharedKey: this.c.sharedKey, hostname: 'canary' });
          const chunk = `canary-${n++}`;
          const t0 = performance.now();
          peer.write(pack([TAG, [[Math.floor(Date.now() / 1000), auditEvent()]], { chunk }]));
          await peer.ack(chunk, 30_000);
          this.latencies.push(performance.now() - t0);
        } catch {
          this.failures++;
          peer?.destroy(); peer = undefined;
        }
        await new Promise((r) => setTimeout(r, this.everyMs));
      }
      peer?.destroy();
    })();
  }

  async stop(): Promise<void> { this.stopped = true; await this.loop; }

  summary(): { acked: number; failures: number; p50: number; max: number } {
    const s = [...this.latencies].sort((a, b) => a - b);
    return { acked: s.length, failures: this.failures, p50: s[Math.floor(s.length / 2)] ?? NaN, max: s.at(-1) ?? NaN };
  }
}

export interface ShapeResult {
  name: string;
  sentBytes: number;
  /** the connection was closed by kontext */
  closed: boolean;
  /** reasons whose counter grew */
  reasons: string[];
  peakRss: number;
  ms: number;
}

/** Sends one bomb over an authenticated connection and waits for kontext to close it. */
export async function throwBomb(c: ServeChild, bomb: Bomb, scale: number, timeoutMs = 60_000): Promise<ShapeResult> {
  const bytes = await bomb.build(scale);
  const before = await rejectedByReason(c);
  resetPeak(c.pid);
  const t0 = performance.now();
  const peer = await ForwardClient.connect(c.forwardPort, { sharedKey: c.sharedKey, hostname: 'attacker' });
  // sampled while waiting: the peak is known even if the process dies
  let peakRss = 0;
  const sample = () => { try { peakRss = Math.max(peakRss, rssOf(c.pid).peak); } catch { /* exited */ } };
  const sampler = setInterval(sample, 100);
  peer.write(bytes);
  let closed = true;
  try { await peer.closedWithin(timeoutMs); } catch { closed = false; }
  const ms = performance.now() - t0;
  peer.destroy();
  await new Promise((r) => setTimeout(r, 200));
  clearInterval(sampler);
  sample();
  const after = c.exited ? {} : await rejectedByReason(c).catch(() => ({} as Record<string, number>));
  const reasons = Object.keys(after).filter((r) => (after[r] ?? 0) > (before[r] ?? 0));
  return { name: bomb.name, sentBytes: bytes.length, closed, reasons, peakRss, ms };
}

/**
 * Fault matrix: a real `kontext serve` child process, a real forward peer that re-sends
 * unacked chunks on a fresh connection (src/simulate/forward-sink.ts), the real
 * Elasticsearch. Each case asserts, by auditID, that every sent event is stored exactly once
 * (one member document per auditID, summaries counting each once, nothing left `open`) and
 * compares the contexts with a clean ordered run of the same input through the same path
 * (the same chunks, one at a time, no faults; such runs are identical to each other).
 * Across a restart, every context stored before it keeps every member it had.
 */
import { splitScopedId } from '../src/clusters/names.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import { Encoder } from '@msgpack/msgpack';
import { simulate } from '../src/simulate/index.ts';
import { EventTime, ForwardSink, forwardCodec } from '../src/simulate/forward-sink.ts';
import { parseMicro } from '../src/simulate/time.ts';
import type { AuditEvent } from '../src/types/audit.ts';
import { ContextSearch } from '../src/query/search.ts';
import { testClient, uniquePrefix, deleteIndices } from './helpers/es.ts';
import { differing, esProcess, freePort, ingest, kill, partition, readStore, serve, type Served, type StoreState } from './helpers/kontext-proc.ts';

const CHUNK = 250;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let es: Client;
let dir: string;
let events: AuditEvent[];
let file: string;
let clean: string[];
const prefixes: string[] = [];

function prefixFor(name: string): string { const p = uniquePrefix(`fm-${name}`); prefixes.push(p); return p; }

before(async () => {
  es = testClient();
  dir = mkdtempSync(path.join(tmpdir(), 'kontext-fault-'));
  events = [...simulate({ seed: 23, start: Date.UTC(2026, 2, 1, 12), durationMs: 120_000, actionsPerMinute: 20, users: 4 }) as Iterable<AuditEvent>];
  file = path.join(dir, 'audit.jsonl');
  writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const p = prefixFor('clean');
  const port = await freePort();
  const svc = await serve(p, port);
  try { await stream(port); } finally { await kill(svc, 'SIGTERM'); }
  const s = await readStore(es, p);
  assertExactlyOnce(s, events.map((e) => e.auditID), 'clean run');
  clean = partition(s.owner);
  assert.ok(clean.length > 20, `enough contexts (${clean.length})`);
});

after(async () => {
  for (const p of prefixes) await deleteIndices(es, p);
  await es.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `open`: contexts may stay open (a service stopped with SIGTERM keeps them for its next start) */
function assertExactlyOnce(s: StoreState, sent: string[], what: string, open = true): void {
  const ids = new Set(sent);
  assert.equal(s.memberDocs, ids.size, `${what}: one member document per sent auditID`);
  for (const id of ids) assert.ok(s.owner.has(id), `${what}: ${id} stored`);
  let counted = 0;
  for (const [id, d] of s.summaries) {
    counted += d.eventCount;
    if (!open) assert.equal(d.state, 'closed', `${what}: context ${id} left open`);
  }
  assert.equal(counted, ids.size, `${what}: summaries count every event once`);
  for (const c of new Set(s.owner.values())) assert.ok(s.summaries.has(c), `${what}: context ${c} has a summary`);
}

function assertSameContexts(s: StoreState, what: string, expected = clean): void {
  const got = partition(s.owner);
  const diff = differing(got, expected);
  assert.equal(diff, 0, `${what}: ${diff} of ${got.length} contexts differ from the clean run (${expected.length})`);
}

const encoder = new Encoder({ extensionCodec: forwardCodec });
function entries(evs: AuditEvent[]): Uint8Array {
  const parts = evs.map((ev) => encoder.encode([EventTime.fromMicros(parseMicro(ev.stageTimestamp)), ev]).slice());
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

function peer(port: number): ForwardSink {
  return new ForwardSink({ host: '127.0.0.1', port, retries: 200, ackTimeoutMs: 60_000 });
}

/** Streams every event in chunks; `fault(i)` runs while chunk i waits for its ack. */
async function stream(port: number, fault?: (i: number) => Promise<void> | undefined, twice?: (i: number) => boolean): Promise<void> {
  const sink = peer(port);
  const other = twice ? peer(port) : undefined;
  try {
    for (let i = 0, k = 0; i < events.length; i += CHUNK, k++) {
      const chunk = events.slice(i, i + CHUNK);
      const bytes = entries(chunk);
      const sent = sink.sendChunk(bytes, chunk.length);
      // the same chunk on a second connection at the same time (a peer retrying too early)
      const again = other && twice!(k) ? other.sendChunk(bytes, chunk.length) : undefined;
      const f = fault?.(k);
      await Promise.all([sent, again, f]);
    }
  } finally { sink.close(); other?.close(); }
}

/** Every context stored before a crash still holds every member it had. */
function assertKept(before: StoreState, after: StoreState, what: string): void {
  let lost = 0;
  for (const [a, c] of before.owner) if (after.owner.get(a) !== c) lost++;
  assert.equal(lost, 0, `${what}: ${lost} members left the context they were stored in`);
  for (const [id, d] of before.summaries) assert.ok((after.summaries.get(id)?.eventCount ?? 0) >= d.eventCount, `${what}: context ${id} shrank`);
}

const esProc = esProcess();

test('restarts: kill -9 early in a chunk, SIGTERM (open contexts continue), kill -9 while Elasticsearch is paused; the peer re-sends unacked chunks', { timeout: 240_000 }, async (t) => {
  const prefix = prefixFor('restarts');
  const port = await freePort();
  // a checkpoint of the labeler and detection memory at every write (the default takes one every 10 s)
  const flags = ['--checkpoint-interval', '0'];
  let svc: Served = await serve(prefix, port, flags);
  const snapshots: Array<[string, StoreState]> = [];
  const snap = async (what: string) => { snapshots.push([what, await readStore(es, prefix)]); };
  try {
    await stream(port, (k) => {
      if (k === 2) {
        return (async () => {
          await sleep(50);
          await kill(svc, 'SIGKILL');
          await snap('kill -9');
          svc = await serve(prefix, port, flags);
        })();
      }
      if (k === 4) {
        return (async () => {
          await sleep(400);
          await kill(svc, 'SIGTERM');
          assert.equal((await svc.exited).code, 0, 'clean exit on SIGTERM');
          await snap('SIGTERM');
          svc = await serve(prefix, port, flags);
        })();
      }
      if (k === 7 && esProc) {
        return (async () => {
          await sleep(300);
          esProc.pause();
          try {
            await sleep(1000);
            await kill(svc, 'SIGKILL');
            const restarting = serve(prefix, port, flags);
            await sleep(3000); // the new process waits for Elasticsearch
            esProc.resume();
            await snap('kill -9 while Elasticsearch was paused');
            svc = await restarting;
          } finally { esProc.resume(); }
        })();
      }
      return undefined;
    });
  } finally {
    esProc?.resume();
    await kill(svc, 'SIGTERM');
  }
  const s = await readStore(es, prefix);
  assertExactlyOnce(s, events.map((e) => e.auditID), 'restarts');
  for (const [what, before] of snapshots) assertKept(before, s, what);
  // the labeler's and the detections' memory come back from the checkpoint and restored
  // contexts keep their body link keys, so the contexts equal the clean run's but for a small
  // residual: what the clusterer's own session memory (helm releases, background windows)
  // and a checkpoint save racing the ack of its batch leave out (measured 2-4 of 93 here)
  const got = partition(s.owner);
  const diff = differing(got, clean);
  t.diagnostic(`contexts differing from the clean run after ${snapshots.length} restarts: ${diff} of ${got.length} (clean ${clean.length})`);
  assert.ok(diff <= Math.ceil(clean.length * 0.06), `after ${snapshots.length} restarts ${diff} of ${got.length} contexts differ from the clean run (${clean.length})`);
});

test('Elasticsearch paused (SIGSTOP) 10 s, and chunks delivered twice concurrently: stored once, the same contexts as the clean run', { timeout: 120_000 }, async () => {
  const prefix = prefixFor('pause');
  const port = await freePort();
  const svc = await serve(prefix, port);
  try {
    await stream(port, (k) => {
      if (k !== 3 || !esProc) return undefined;
      return (async () => {
        await sleep(100);
        esProc.pause();
        try { await sleep(10_000); } finally { esProc.resume(); }
      })();
    }, (k) => k === 1 || k === 5 || k === 6);
  } finally {
    esProc?.resume();
    await kill(svc, 'SIGTERM');
  }
  const s = await readStore(es, prefix);
  assertExactlyOnce(s, events.map((e) => e.auditID), 'ES paused');
  assertSameContexts(s, 'ES paused');
  if (esProc) assert.match(svc.stderr.join(''), /slow to answer|Elasticsearch write failed; retrying|backpressure/, 'the stall is visible in the log');
});

test('replay of an overlapping file (two members of a big context removed, one new event): nothing lost, the new event resolves to its context', { timeout: 120_000 }, async () => {
  const prefix = prefixFor('replay');
  const r1 = await ingest(prefix, file);
  assert.equal(r1.code, 0, r1.err);
  const first = await readStore(es, prefix);
  assertExactlyOnce(first, events.map((e) => e.auditID), 'first ingest', false);
  // the biggest action context (not background) and two of its members that are not its first
  const sizes = new Map<string, string[]>();
  for (const [a, c] of first.owner) { let g = sizes.get(c); if (!g) sizes.set(c, (g = [])); g.push(a); }
  const [bigId, bigMembers] = [...sizes].filter(([c]) => !first.summaries.get(c)!.label.startsWith('background')).sort((x, y) => y[1].length - x[1].length)[0]!;
  assert.ok(bigMembers.length >= 5, `a big context (${bigMembers.length})`);
  // its first member: the auditID in its id (<cluster>/<auditID>)
  const bigFirst = splitScopedId(bigId).id;
  const removed = new Set(bigMembers.filter((a) => a !== bigFirst).slice(1, 3));
  const model = events.find((e) => e.auditID === bigMembers.find((a) => a !== bigFirst && !removed.has(a)))!;
  const fresh: AuditEvent = { ...model, auditID: 'replayed-new-event-0001' };
  const copy = events.filter((e) => !removed.has(e.auditID));
  copy.splice(copy.indexOf(model) + 1, 0, fresh);
  const file2 = path.join(dir, 'audit-overlap.jsonl');
  writeFileSync(file2, copy.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const r = await ingest(prefix, file2);
  assert.equal(r.code, 0, r.err);
  const s = await readStore(es, prefix);
  assertExactlyOnce(s, [...events.map((e) => e.auditID), fresh.auditID], 'replay', false);
  assertKept(first, s, 'replay');
  const search = new ContextSearch(es, prefix);
  const ctx = await search.byAuditID(fresh.auditID, true);
  assert.equal(ctx?.id, bigId, 'contextOfEvent of the new event is the big context');
  assert.equal(ctx!.eventCount, bigMembers.length + 1);
  assert.equal(ctx!.members!.length, bigMembers.length + 1);
  // every other context is exactly as before
  const expected = new Map(first.owner); expected.set(fresh.auditID, bigId);
  assertSameContexts(s, 'replay', partition(expected));
});

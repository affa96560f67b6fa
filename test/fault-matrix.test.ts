/**
 * Fault matrix: a real `kontext serve` child process, a real forward peer that re-sends
 * unacked chunks on a fresh connection (src/simulate/forward-sink.ts), the real
 * Elasticsearch. Each case asserts, by auditID, that every sent event is stored exactly once
 * (one member document per auditID, summaries counting each once, nothing left `open`) and
 * compares the contexts with a clean ordered run of the same input through the same path
 * (the same chunks, one at a time, no faults; such runs are identical to each other).
 * Across a restart, every context stored before it keeps every member it had.
 *
 * Cases: kill -9 early and late in a chunk, SIGTERM, kill -9 while Elasticsearch is paused
 * (a checkpoint at every write: the labeler's, detections' and clusterer's memory come back);
 * Elasticsearch paused 60 s with chunks delivered twice concurrently; a replay of an
 * overlapping file; every chunk in flight at once, shuffled within the horizon, on two
 * connections (against the ordered chunks delivered alike); wrong-typed fields on a poison connection while the input streams.
 */
import { splitScopedId } from '../src/clusters/names.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import { simulate } from '../src/simulate/index.ts';
import type { AuditEvent } from '../src/types/audit.ts';
import { ContextSearch } from '../src/query/search.ts';
import { testClient, uniquePrefix, deleteIndices } from './helpers/es.ts';
import { differing, esProcess, freePort, ingest, kill, partition, readStore, serve, type Served, type StoreState } from './helpers/kontext-proc.ts';
import { setPath } from './normalize-helpers.ts';
import { assertExactlyOnce, entries, peer, streamChunks } from './helpers/fault-peer.ts';
import { chunksOf, shuffleWithin } from '../src/bench/reorder.ts';

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

/** Streams every event in chunks; `fault(i)` runs while chunk i waits for its ack. */
function stream(port: number, fault?: (i: number) => Promise<void> | undefined, twice?: (i: number) => boolean): Promise<void> {
  return streamChunks(port, events, CHUNK, fault, twice);
}

function assertSameContexts(s: StoreState, what: string, expected = clean): void {
  const got = partition(s.owner);
  const diff = differing(got, expected);
  assert.equal(diff, 0, `${what}: ${diff} of ${got.length} contexts differ from the clean run (${expected.length})`);
}

/** Every context stored before a crash still holds every member it had. */
function assertKept(before: StoreState, after: StoreState, what: string): void {
  let lost = 0;
  for (const [a, c] of before.owner) if (after.owner.get(a) !== c) lost++;
  assert.equal(lost, 0, `${what}: ${lost} members left the context they were stored in`);
  for (const [id, d] of before.summaries) assert.ok((after.summaries.get(id)?.eventCount ?? 0) >= d.eventCount, `${what}: context ${id} shrank`);
}

const esProc = esProcess();

test('restarts: kill -9 early in a chunk, SIGTERM (open contexts continue), kill -9 while Elasticsearch is paused, kill -9 late in a chunk; the peer re-sends unacked chunks', { timeout: 600_000 }, async (t) => {
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
      if (k === 9) {
        // late in the chunk: its events are being stored or stored, the ack not yet read
        return (async () => {
          await sleep(1200);
          await kill(svc, 'SIGKILL');
          await snap('kill -9 late in a chunk');
          svc = await serve(prefix, port, flags);
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
  // the labeler's, the detections' and the clusterer's session memory come back from the
  // checkpoint and restored contexts keep their body link keys: the contexts equal the clean run's
  const got = partition(s.owner);
  t.diagnostic(`contexts differing from the clean run after ${snapshots.length} restarts: ${differing(got, clean)} of ${got.length} (clean ${clean.length})`);
  assertSameContexts(s, `after ${snapshots.length} restarts`);
});

test('Elasticsearch paused (SIGSTOP) 60 s, and chunks delivered twice concurrently: stored once, the same contexts as the clean run', { timeout: 300_000 }, async () => {
  const prefix = prefixFor('pause');
  const port = await freePort();
  const svc = await serve(prefix, port);
  try {
    await stream(port, (k) => {
      if (k !== 3 || !esProc) return undefined;
      return (async () => {
        await sleep(100);
        esProc.pause();
        try { await sleep(60_000); } finally { esProc.resume(); }
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

test('replay of an overlapping file (two members of a big context removed, one new event): nothing lost, the new event resolves to its context', { timeout: 300_000 }, async () => {
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

/** Every chunk of `order` in flight at once on two connections (none waits for an ack); the store afterwards. */
async function allInFlight(name: string, order: AuditEvent[][]): Promise<StoreState> {
  const prefix = prefixFor(name);
  const port = await freePort();
  // they reach normalize within its reorder wait
  const svc = await serve(prefix, port, ['--reorder-wait', '5s']);
  const peers = [peer(port), peer(port)];
  try {
    await Promise.all(order.map((c, i) => peers[i % 2]!.sendChunk(entries(c), c.length)));
  } finally {
    for (const p of peers) p.close();
    await kill(svc, 'SIGTERM');
  }
  return readStore(es, prefix);
}

test('chunks delivered shuffled within the horizon, all in flight at once on two connections: the same contexts as the ordered run delivered alike', { timeout: 300_000 }, async (t) => {
  const chunks = chunksOf(events, CHUNK);
  const order = shuffleWithin(chunks, 3_600_000, 5);
  assert.notDeepEqual(order.map((c) => c[0]!.auditID), chunks.map((c) => c[0]!.auditID), 'the shuffle changes the order');
  const ordered = await allInFlight('inflight', chunks);
  assertExactlyOnce(ordered, events.map((e) => e.auditID), 'ordered, all in flight');
  const s = await allInFlight('shuffled', order);
  assertExactlyOnce(s, events.map((e) => e.auditID), 'shuffled');
  // the reference is delivered the same way: the one-chunk-at-a-time run goes quiet between
  // chunks, and the labeler flushes its model windows whenever the input is quiet
  t.diagnostic(`ordered all in flight vs one chunk at a time: ${differing(partition(ordered.owner), clean)} of ${clean.length} contexts differ`);
  assertSameContexts(s, 'shuffled', partition(ordered.owner));
});

/** events of the input with one field kontext reads set to a wrong type (or an over-long string) */
function poisonEvents(): AuditEvent[] {
  const fields = ['userAgent', 'objectRef.resource', 'objectRef.namespace', 'objectRef.name', 'user.groups', 'user.username', 'sourceIPs', 'impersonatedUser.username', 'responseStatus.code', 'verb'];
  const wrong: unknown[] = [7.5, true, { x: 1 }, 'x'.repeat(200_000)];
  const out: AuditEvent[] = [];
  let i = 0;
  for (const f of fields) {
    for (const w of wrong) {
      const ev = structuredClone(events[i % events.length]!) as unknown as Record<string, unknown>;
      ev.auditID = `poison-${i++}`;
      setPath(ev, f, w);
      out.push(ev as unknown as AuditEvent);
    }
  }
  return out;
}

test('field-type fuzz through kontext serve: poison chunks are dead-lettered and acked once, the other connection keeps flowing, the contexts equal the clean run', { timeout: 300_000 }, async () => {
  const prefix = prefixFor('fuzz');
  const port = await freePort();
  const svc = await serve(prefix, port);
  const poison = poisonEvents();
  const bad = peer(port);
  try {
    // the poison goes on its own connection while the input streams; each poison chunk is acked (it can never succeed on retry)
    let acked = 0;
    const sending = (async () => {
      for (let i = 0; i < poison.length; i += 8) { const c = poison.slice(i, i + 8); await bad.sendChunk(entries(c), c.length); acked++; }
    })();
    await stream(port);
    await sending;
    assert.equal(acked, Math.ceil(poison.length / 8), 'every poison chunk acked');
  } finally {
    bad.close();
    await kill(svc, 'SIGTERM');
  }
  const s = await readStore(es, prefix);
  assertExactlyOnce(s, events.map((e) => e.auditID), 'fuzz');
  assertSameContexts(s, 'fuzz');
  await es.indices.refresh({ index: `${prefix}-dead-letter*` });
  const dl = await es.count({ index: `${prefix}-dead-letter*` });
  assert.equal(dl.count, poison.length, 'each poison event dead-lettered once');
  assert.doesNotMatch(svc.stderr.join(''), /retrying/, 'no retry loop');
});

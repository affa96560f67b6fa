/**
 * The clusterer's memory across a restart: a clusterer that takes back the contexts stored so
 * far (as the store hands them back: compact members, open ones within the horizon, closed
 * ones within the idle time) plus its session snapshot continues exactly as one that never
 * stopped (the events it took in but had not stored yet are re-sent) — helm release sessions, applies in progress, each person's reads, the latest action
 * per namespace, background windows, pods waiting for their kubelet. Without the snapshot the
 * contexts differ (the test can fail).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulate } from '../src/simulate/index.ts';
import { createClusterer, type Clusterer, type ClustererOptions } from '../src/cluster/clusterer.ts';
import { oracleLabel } from '../src/cluster/replay.ts';
import { restoreContexts, snapshotText } from '../src/cluster/restore.ts';
import { SessionMap, ctxCodec, restoreTables, snapshotTables, withCtxCodec, type CtxRefs } from '../src/cluster/snapshot.ts';
import type { ContextDoc } from '../src/types/context.ts';
import type { LabeledEvent } from '../src/types/pipeline.ts';

const OPTS: ClustererOptions = { idleMs: 60_000, maxAgeMs: 300_000, wallClock: () => 0 };
const TICK = 1_000;

const events: LabeledEvent[] = [...simulate({ seed: 31, start: Date.UTC(2026, 2, 1, 12), durationMs: 600_000, actionsPerMinute: 20, users: 4 })]
  .map(oracleLabel).sort((a, b) => a.time - b.time);

/** Pushes `evs` on an event-time tick grid from `t0`, storing every write in `store` (latest per id); returns the next tick. */
function drive(cl: Clusterer, evs: LabeledEvent[], t0: number, store: Map<string, ContextDoc>, end: boolean): number {
  let next = t0;
  let batch: LabeledEvent[] = [];
  const tick = (wm: number | undefined, force: boolean) => {
    if (batch.length) { cl.push(batch); batch = []; }
    for (const w of cl.collect(wm, force)) store.set(w.doc.id, w.doc);
  };
  for (const e of evs) {
    while (e.time >= next) { tick(next, false); next += TICK; }
    batch.push(e);
  }
  if (end) tick(undefined, true);
  else tick(next - TICK, false);
  return next;
}

/** What the store hands back at start-up (store/restore.ts loadRecentContexts): recent open and recently closed contexts. */
function fromStore(store: Map<string, ContextDoc>): ContextDoc[] {
  const wm = Math.max(...[...store.values()].map((d) => d.end));
  return [...store.values()]
    .filter((d) => (d.state === 'open' ? d.end >= wm - Math.max(OPTS.maxAgeMs!, 1_800_000) : d.end >= wm - OPTS.idleMs!))
    .sort((a, b) => b.end - a.end)
    .map((d) => structuredClone(d));
}

function partition(store: Map<string, ContextDoc>): string[] {
  return [...store.values()].map((d) => d.members.map((m) => m.auditID).sort().join(',')).sort();
}
const differing = (a: string[], b: string[]) => { const s = new Set(b); return a.filter((x) => !s.has(x)).length; };

const whole = new Map<string, ContextDoc>();
drive(createClusterer(OPTS), events, events[0]!.time + TICK, whole, true);
const want = partition(whole);

/** A run that stops after `cut` events (at a tick: what was stored, and the snapshot taken then) and continues in a new clusterer. */
function restarted(cut: number, withSnapshot: boolean): { got: string[]; sessions: boolean } {
  const store = new Map<string, ContextDoc>();
  const a = createClusterer(OPTS);
  const next = drive(a, events.slice(0, cut), events[0]!.time + TICK, store, false);
  const text = snapshotText(a);
  const b = createClusterer(OPTS);
  const back = restoreContexts(b, fromStore(store), undefined, withSnapshot ? text : undefined);
  // events taken in but not stored yet (a background window is rewritten every 10 s) were not
  // acknowledged: the peer sends them again, before what it had not sent yet
  const stored = new Set([...store.values()].flatMap((d) => d.members.map((m) => m.auditID)));
  const resent = events.slice(0, cut).filter((e) => !stored.has(e.audit.auditID));
  drive(b, [...resent, ...events.slice(cut)], next, store, true);
  return { got: partition(store), sessions: back.sessions };
}

test('clusterer snapshot: restored with the stored contexts, it continues exactly as the run that never stopped', () => {
  assert.ok(want.length > 60, `enough contexts (${want.length})`);
  const labels = new Set(events.map((e) => e.labelKey));
  assert.ok([...labels].some((l) => l.startsWith('background')), 'background windows in the input');
  const cuts = [0.2, 0.35, 0.5, 0.65, 0.8].map((f) => Math.floor(events.length * f));
  let without = 0;
  for (const cut of cuts) {
    const r = restarted(cut, true);
    assert.equal(r.sessions, true, 'the snapshot was taken back');
    const members = r.got.reduce((n, s) => n + s.split(',').length, 0);
    assert.equal(members, events.length, `cut ${cut}: every event in exactly one context`);
    const diff = differing(r.got, want);
    assert.equal(diff, 0, `cut ${cut}: ${diff} of ${r.got.length} contexts differ from the uninterrupted run (${want.length})`);
    without += differing(restarted(cut, false).got, want);
  }
  assert.ok(without > 0, 'without the snapshot some contexts differ');
});

test('clusterer snapshot: another version or garbage is refused and the stored contexts still come back', () => {
  const a = createClusterer(OPTS);
  const store = new Map<string, ContextDoc>();
  drive(a, events.slice(0, 500), events[0]!.time + TICK, store, false);
  const snap = a.snapshot();
  assert.equal(snap.v, 1);
  for (const bad of ['{"broken', JSON.stringify([{ ...snap, v: 99 }])]) {
    const b = createClusterer(OPTS);
    const back = restoreContexts(b, fromStore(store), undefined, bad);
    assert.equal(back.sessions, false);
    assert.ok(back.contexts > 0 && b.openContexts + b.retainedContexts === back.contexts);
  }
});

test('session tables: a SessionMap writes contexts by id, drops entries whose context is gone, keeps its newest entries up to its cap', () => {
  interface C { id: string }
  const x: C = { id: 'x' }; const y: C = { id: 'y' };
  const live = new Map([['x', x]]);
  const refs: CtxRefs<C> = { id: (c) => (live.get(c.id) === c ? c.id : undefined), ctx: (id) => live.get(id) };
  const home = new SessionMap<{ c: C; t: number }, C>('home', withCtxCodec(), 2);
  home.set('a', { c: x, t: 1 }); home.set('b', { c: y, t: 2 }); home.set('c', { c: x, t: 3 }); home.set('d', { c: x, t: 4 });
  const byRel = new SessionMap<C, C>('rel', ctxCodec());
  byRel.set('r', x);
  const snap = JSON.parse(JSON.stringify(snapshotTables([home, byRel], refs, 10)));
  assert.deepEqual(snap.tables.home, [['c', { c: 'x', t: 3 }], ['d', { c: 'x', t: 4 }]], 'y is gone; the newest two remain');
  const home2 = new SessionMap<{ c: C; t: number }, C>('home', withCtxCodec(), 2);
  const byRel2 = new SessionMap<C, C>('rel', ctxCodec());
  const extra = new SessionMap<C, C>('added later', ctxCodec());
  assert.equal(restoreTables([home2, byRel2, extra], snap, refs), true);
  assert.equal(home2.get('d')!.c, x, 'the context object itself comes back');
  assert.deepEqual([...home2.keys()], ['c', 'd'], 'in recency order');
  assert.equal(byRel2.get('r'), x);
  assert.equal(extra.size, 0, 'a table the snapshot does not have restores empty');
  assert.equal(restoreTables([home2], { ...snap, v: 2 }, refs), false);
  assert.equal(home2.size, 2, 'another version changes nothing');
});

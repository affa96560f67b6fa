import { test } from 'node:test';
import assert from 'node:assert/strict';
import { positionWeights, Windower } from '../src/label/windows.ts';

/** Runs a windower over n items pushed in random-sized chunks, with flushes at the given points. */
function run(W: number, S: number, n: number, flushAt: Set<number>, C = 3) {
  const w = new Windower<number>(W, S, C);
  const released: number[] = [];
  const scored = new Map<number, number>();
  const score = (specs: ReturnType<Windower<number>['takeReady']>) => {
    for (const s of specs) {
      assert.ok(s.length >= 1 && s.length <= W);
      const probs = new Float32Array(s.length * C);
      for (let j = 0; j < s.length; j++) {
        const item = w.at(s.start + j);
        probs[j * C + (item % C)] = 1; // each window votes the item's own class
        scored.set(item, (scored.get(item) ?? 0) + 1);
      }
      w.vote(s, probs);
    }
  };
  for (let i = 0; i < n; i++) {
    w.push(i);
    score(w.takeReady());
    if (flushAt.has(i)) score(w.takeFlush());
    for (const v of w.release()) {
      released.push(v.item);
      assert.equal(v.cls, v.item % C, 'vote picks the class every window agreed on');
      assert.ok(Math.abs(v.confidence - 1) < 1e-6);
    }
    assert.ok(w.pending <= W + (flushAt.size ? W : 0), `holds back at most about one window (${w.pending})`);
  }
  score(w.takeReady()); score(w.takeFlush());
  for (const v of w.release()) released.push(v.item);
  return { released, scored, pending: w.pending };
}

test('windows: every event released exactly once, in order, for several window/stride settings', () => {
  for (const [W, S] of [[1, 1], [4, 4], [8, 4], [8, 1], [16, 16], [32, 16], [60, 1], [7, 3]] as const) {
    for (const n of [0, 1, W - 1, W, W + 1, 3 * W + 2, 257]) {
      const r = run(W, S, n, new Set());
      assert.deepEqual(r.released, Array.from({ length: n }, (_, i) => i), `W=${W} S=${S} n=${n}`);
      assert.equal(r.pending, 0);
      for (let i = 0; i < n; i++) assert.ok((r.scored.get(i) ?? 0) >= 1, `item ${i} scored at least once`);
    }
  }
});

test('windows: flush mid-stream labels what is held and the stream continues', () => {
  for (const [W, S] of [[8, 8], [8, 4], [6, 1]] as const) {
    const r = run(W, S, 100, new Set([3, 17, 18, 50, 99]));
    assert.deepEqual(r.released, Array.from({ length: 100 }, (_, i) => i));
  }
});

test('windows: holds back fewer than one window of events when stride = window', () => {
  const w = new Windower<number>(16, 16, 2);
  let maxPending = 0;
  for (let i = 0; i < 200; i++) {
    w.push(i);
    for (const s of w.takeReady()) w.vote(s, new Float32Array(s.length * 2));
    w.release();
    maxPending = Math.max(maxPending, w.pending);
  }
  assert.equal(maxPending, 15);
});

test('windows: triangular position weights favour the middle; ones without overlap', () => {
  const t = positionWeights(8, 4);
  assert.ok(t[3]! > t[0]! && t[4]! > t[7]!);
  assert.deepEqual([...positionWeights(8, 8)], new Array(8).fill(1));
  assert.throws(() => new Windower(4, 5, 2), /stride/);
});

test('windows: weighted vote prefers the window where the event sits in the middle', () => {
  const w = new Windower<number>(4, 2, 2);
  for (let i = 0; i < 6; i++) w.push(i);
  const specs = w.takeReady(); // starts 0 and 2
  assert.deepEqual(specs.map((s) => s.start), [0, 2]);
  // item 2 sits at position 2 of window 0 (weight 1) and position 0 of window 2 (weight 0.5)
  const p0 = new Float32Array(8); const p1 = new Float32Array(8);
  for (let j = 0; j < 4; j++) { p0[j * 2] = 1; p1[j * 2 + 1] = 1; }
  w.vote(specs[0]!, p0); w.vote(specs[1]!, p1);
  const out = w.release();
  const item2 = out.find((v) => v.item === 2)!;
  assert.equal(item2.cls, 0);
  assert.ok(Math.abs(item2.confidence - 2 / 3) < 1e-6);
});

/**
 * Hostile forward input against a real `kontext serve` child (real Elasticsearch): decompression
 * bombs of several shapes, huge declared lengths, deep nesting. For each: kontext closes the
 * offending connection with the right reason (metric), stays up, its peak RSS stays bounded,
 * and a canary peer keeps being served and acked throughout. Longer runs: scripts/fuzz-forward.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { esUrl } from './helpers/es.ts';
import { BOMBS, Canary, rssOf, startServe, throwBomb, type ServeChild } from './helpers/hostile.ts';

const MB = 1 << 20;

describe('hostile forward input against kontext serve', { timeout: 240_000 }, () => {
  let child: ServeChild;
  let canary: Canary;
  let startRss = 0;

  before(async () => {
    child = await startServe({ esUrl: esUrl(), prefix: `hostile-${process.pid}` });
    canary = new Canary(child, 100);
    canary.start();
    await new Promise((r) => setTimeout(r, 1000));
    startRss = rssOf(child.pid).now;
  });
  after(async () => {
    await canary?.stop();
    await child?.stop();
  });

  for (const bomb of BOMBS) {
    test(`${bomb.name}: rejected (${bomb.reasons.join(' | ')}), process up, RSS bounded, canary served`, async () => {
      const ackedBefore = canary.latencies.length;
      const r = await throwBomb(child, bomb, 1, 60_000);
      assert.equal(child.exited, false, 'kontext serve is still running');
      assert.ok(r.closed, 'the offending connection was closed');
      assert.ok(r.reasons.some((x) => bomb.reasons.includes(x)), `rejected with one of ${bomb.reasons.join(', ')}; got ${r.reasons.join(', ') || 'none'}`);
      const bound = Math.max(2 * startRss, startRss + 384 * MB);
      assert.ok(r.peakRss < bound, `peak RSS ${(r.peakRss / MB).toFixed(0)} MB under ${(bound / MB).toFixed(0)} MB (start ${(startRss / MB).toFixed(0)} MB)`);
      const line = child.logs.find((l) => typeof l.reason === 'string' && r.reasons.includes(l.reason) && /closing connection/.test(String(l.msg)));
      assert.ok(line, 'a log line names the reason');
      // the canary keeps being acked
      const end = Date.now() + 30_000;
      while (canary.latencies.length <= ackedBefore && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
      assert.ok(canary.latencies.length > ackedBefore, 'the canary got an ack after the bomb');
      assert.equal(canary.failures, 0, 'no canary chunk failed');
    });
  }
});

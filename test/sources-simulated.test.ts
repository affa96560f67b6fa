import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSimulatedSource } from '../src/sources/simulated/index.ts';
import type { AuditEvent } from '../src/types/audit.ts';
import type { Receipt } from '../src/types/pipeline.ts';

/** runs the simulated source for `ms` of wall time; every pushed event with the wall time it arrived at */
async function run(speed: number, ms: number): Promise<{ ev: AuditEvent; at: number }[]> {
  const got: { ev: AuditEvent; at: number }[] = [];
  const src = startSimulatedSource({
    push(records: unknown[], receipt?: Receipt) { const at = Date.now(); for (const r of records) got.push({ ev: r as AuditEvent, at }); receipt?.settle(records.length); },
    saturated: false,
    onDrain() {},
  }, { speed, seed: 3, users: 4, actionsPerMinute: 30 });
  await new Promise((r) => setTimeout(r, ms));
  await src.stop();
  return got;
}

test('--simulate-speed N: N times the traffic, event times stay at wall-clock time (none in the future), in order', async () => {
  const t0 = Date.now();
  const fast = await run(30, 1500);
  const slow = await run(1, 1500);
  assert.ok(fast.length > 3 * Math.max(1, slow.length), `speed 30 pushed ${fast.length}, speed 1 ${slow.length}`);
  let prev = 0;
  for (const { ev, at } of fast) {
    const stage = Date.parse(ev.stageTimestamp);
    const received = Date.parse(ev.requestReceivedTimestamp);
    assert.ok(stage <= at + 1, `stageTimestamp ${ev.stageTimestamp} after it was pushed (${new Date(at).toISOString()})`);
    assert.ok(received <= stage && stage >= t0 - 1, `${ev.requestReceivedTimestamp} / ${ev.stageTimestamp}`);
    assert.ok(stage >= prev, 'stage order kept');
    prev = stage;
  }
  // the newest event is recent: the simulated timeline is compressed, not shifted back
  assert.ok(fast.at(-1)!.at - Date.parse(fast.at(-1)!.ev.stageTimestamp) < 1000);
});

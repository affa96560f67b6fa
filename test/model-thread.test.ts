/**
 * The labeling model on a worker thread (--workers 1): the same labels as in-thread inference
 * on the same stream, and when the worker dies the stage keeps labeling on the main thread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulate } from '../src/simulate/index.ts';
import { parseAuditTime } from '../src/normalize/index.ts';
import type { KEvent, LabeledEvent } from '../src/types/pipeline.ts';
import { createLabeler, type PredictFn } from '../src/label/index.ts';
import { resolveModelDir } from '../src/pipeline/build.ts';
import { ModelThread } from '../src/pipeline/model-thread.ts';

const MODEL = resolveModelDir('models/default');
const events: KEvent[] = [...simulate({ seed: 5, durationMs: 180_000, actionsPerMinute: 20 })].map((a) => ({ audit: a, time: parseAuditTime(a.requestReceivedTimestamp) }));

async function labelAll(predictor?: (local: PredictFn) => Promise<PredictFn>, between?: () => Promise<void>): Promise<LabeledEvent[]> {
  const l = await createLabeler({ modelDir: MODEL, backend: 'wasm', predictor });
  assert.equal(l.mode, 'model');
  const half = Math.floor(events.length / 2);
  const out = [...(await l.push(events.slice(0, half)))];
  await between?.();
  out.push(...(await l.push(events.slice(half))), ...(await l.flush()));
  return out;
}

test('model worker: labels equal those of in-thread inference, every event once, in order', async () => {
  const local = await labelAll();
  let thread: ModelThread | undefined;
  const remote = await labelAll(async (fallback) => { thread = await ModelThread.start({ modelDir: MODEL, fallback }); return thread.predict; });
  try {
    assert.ok(thread!.served.worker > 0, 'the worker answered no request');
    assert.equal(thread!.served.fallback, 0);
    assert.deepEqual(remote.map((e) => e.audit.auditID), events.map((e) => e.audit.auditID));
    const differ = remote.filter((e, i) => e.labelKey !== local[i]!.labelKey || e.labelSource !== local[i]!.labelSource || e.confidence !== local[i]!.confidence).length;
    assert.equal(differ, 0, `${differ} of ${events.length} labels differ between the worker and the main thread`);
  } finally { await thread?.close(); }
});

test('model worker: a worker that dies mid-stream leaves labeling on the main thread, same labels', async () => {
  const local = await labelAll();
  let thread: ModelThread | undefined;
  const remote = await labelAll(
    async (fallback) => { thread = await ModelThread.start({ modelDir: MODEL, fallback }); return thread.predict; },
    async () => { await thread!.kill(); },
  );
  assert.equal(thread!.alive, false);
  assert.ok(thread!.served.worker > 0 && thread!.served.fallback > 0, `served ${JSON.stringify(thread!.served)}`);
  assert.deepEqual(remote.map((e) => e.labelKey), local.map((e) => e.labelKey));
});

test('model worker: a model directory the worker cannot load fails the start', async () => {
  await assert.rejects(ModelThread.start({ modelDir: '/nonexistent/kontext-model', fallback: () => Promise.reject(new Error('unused')) }), /model worker/);
});

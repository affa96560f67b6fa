import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { writeRun, type RunWindow } from '../src/record/corpus.ts';
import { manifestSteps, retruthCorpus, retruthRun } from '../src/record/retruth.ts';
import { deriveTruth, type TruthRow } from '../src/record/truth.ts';
import type { StepRecord } from '../src/record/runner.ts';
import type { AuditEvent } from '../src/types/audit.ts';

// The real recording of test/record-fixture.test.ts (bob: create namespace, create Deployment,
// rollout status), stored as run r01 with stale truth (every request background).
const events = gunzipSync(readFileSync('test/fixtures/record/deployment-create.jsonl.gz')).toString().trim().split('\n').map((l) => JSON.parse(l) as AuditEvent);
const steps = (JSON.parse(readFileSync('test/fixtures/record/deployment-create.steps.json', 'utf8')) as StepRecord[]).map((s) => ({ ...s, exitCode: 0 }));
const RUN = 'r01-deployment-lifecycle';
const win: RunWindow = { run: RUN, scenario: 'deployment-lifecycle', seed: 1, overlap: false, start: events[0]!.requestReceivedTimestamp, end: events[events.length - 1]!.stageTimestamp, steps };

const readRows = (dir: string) => brotliDecompressSync(readFileSync(path.join(dir, 'truth.jsonl.br'))).toString().trim().split('\n').map((l) => JSON.parse(l) as TruthRow);

test('retruth: a stored run\'s truth and manifest counts are rewritten from its events and steps with the current rules', async () => {
  const corpus = mkdtempSync(path.join(os.tmpdir(), 'kontext-retruth-'));
  try {
    const dir = path.join(corpus, RUN);
    const stale = new Map(events.map((e) => [e.auditID, { auditID: e.auditID, action: null, tier: 'background', user: e.user.username } as TruthRow]));
    const before = await writeRun(dir, win, events, stale, { kubernetesVersion: 'v1.37.2', versions: {}, nodes: 1 });
    assert.equal(before.counts.own, 0);
    const audit = readFileSync(path.join(dir, 'audit.jsonl.br'));

    const r = await retruthRun(dir);
    const want = deriveTruth(events, manifestSteps(before));
    const rows = readRows(dir);
    assert.equal(rows.length, want.size, 'one row per request');
    for (const row of rows) assert.deepEqual(row, want.get(row.auditID));
    assert.equal(r.changed, rows.filter((x) => x.tier !== 'background').length);
    assert.equal(r.moves['background→discovery'], 2, 'bob\'s /api and /apis before rollout status');
    const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    assert.deepEqual(m.counts, { events: events.length, requests: rows.length, ...r.counts, steps: 3 });
    assert.deepEqual(m.counts, { events: 90, requests: 89, own: 4, cascade: 41, discovery: 2, background: 42, steps: 3 });
    assert.deepEqual({ ...m, counts: undefined }, { ...before, counts: undefined }, 'nothing else in the manifest changes');
    assert.deepEqual(readFileSync(path.join(dir, 'audit.jsonl.br')), audit, 'the events stay as stored');

    // a second pass over the whole corpus changes nothing
    const lines: string[] = [];
    const again = await retruthCorpus(corpus, (l) => lines.push(l));
    assert.deepEqual(again.map((x) => [x.run, x.changed]), [[RUN, 0]]);
    assert.match(lines[0]!, /^1\/1 r01-deployment-lifecycle: \d+ requests, 0 changed$/);
    assert.deepEqual(readRows(dir), rows);
  } finally {
    rmSync(corpus, { recursive: true, force: true });
  }
});

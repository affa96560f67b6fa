import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function kontext(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(root, 'bin/kontext.js'), ...args], { cwd: root, env: { ...process.env, CI: '1' } });
    let stdout = ''; let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

test('cli: kontext train writes model, vocab, config and metrics; kontext evaluate reads them', { timeout: 240_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kontext-train-'));
  try {
    const tr = await kontext(['train', '--out', dir, '--seed', '3', '--duration', '6m', '--epochs', '1', '--window', '16', '--stride', '16', '--units', '8', '--embed', '8', '--backend', 'wasm']);
    assert.equal(tr.code, 0, tr.stderr);
    assert.match(tr.stderr, /epoch 1\/1/, 'progress per epoch');
    assert.match(tr.stdout, /macro-F1/);
    const files = await readdir(dir);
    for (const f of ['model.json', 'weights.bin', 'vocab.json', 'config.json', 'metrics.json']) assert.ok(files.includes(f), `${f} written`);
    const metrics = JSON.parse(await readFile(path.join(dir, 'metrics.json'), 'utf8'));
    assert.equal(typeof metrics.test.macroF1, 'number');
    assert.equal(metrics.test.bySize.length, 6);
    assert.ok(metrics.data.splits.train.events > 0 && metrics.data.splits.test.events > 0);
    const config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'));
    assert.equal(config.window, 16);
    assert.deepEqual(config.architecture.units, [8]);

    const evr = await kontext(['evaluate', '--model', dir, '--seed', '5', '--duration', '3m', '--json', '--backend', 'wasm']);
    assert.equal(evr.code, 0, evr.stderr);
    const r = JSON.parse(evr.stdout);
    assert.equal(r.mode, 'model');
    assert.ok(r.metrics.events > 0);
    assert.equal(r.metrics.perLabel.length, r.metrics.labels, 'one score per label of the ground truth');
    assert.ok(Array.isArray(r.metrics.perLabel) && Array.isArray(r.metrics.topConfusions));
  } finally { await rm(dir, { recursive: true, force: true }); }
});

test('cli: clear errors for bad flags', async () => {
  const a = await kontext(['train', '--stride', '40', '--window', '32']);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /--stride/);
  const b = await kontext(['evaluate', '--backend', 'gpu']);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /--backend/);
});

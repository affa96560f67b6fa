import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulate } from '../src/simulate/index.ts';
import { evaluatePolicy, POLICIES } from '../src/k8s/audit-policy.ts';
import type { AuditEvent } from '../src/types/audit.ts';

const run = (policy?: string) => [...simulate({ seed: 5, durationMs: 2 * 60_000, ...(policy ? { policy } : {}) })];

test('simulate at a level: the same traffic, only what is logged of it changes', () => {
  const rr = run('request-response');
  const md = run('metadata');
  const rq = run('Request');
  assert.ok(rr.length > 1000);
  assert.deepEqual(md.map((e) => e.auditID), rr.map((e) => e.auditID));
  assert.deepEqual(rq.map((e) => e.auditID), rr.map((e) => e.auditID));
  assert.ok(rr.every((e) => e.level === 'RequestResponse'));
  assert.ok(rr.some((e) => e.objectRef?.resource === 'secrets' && e.requestObject), 'RequestResponse logs secret bodies too');
  assert.ok(md.every((e) => e.level === 'Metadata' && e.requestObject === undefined && e.responseObject === undefined));
  assert.ok(rq.every((e) => e.level === 'Request' && e.responseObject === undefined));
  assert.ok(rq.some((e) => e.requestObject));
  const strip = (e: AuditEvent) => { const { requestObject: _a, responseObject: _b, level: _c, ...rest } = e; return rest; };
  for (let i = 0; i < rr.length; i += 13) assert.deepEqual(strip(md[i]!), strip(rr[i]!), 'metadata fields identical');
});

test('simulate under a mixed policy drops what the policy drops and keeps the rest at its level', () => {
  const rr = run('request-response');
  const gke = run('kubeadm-gke-default');
  const p = POLICIES['kubeadm-gke-default']!;
  const kept = rr.filter((e) => evaluatePolicy(p, e) !== 'None');
  assert.ok(kept.length < rr.length, 'core Events and node GETs are dropped');
  assert.deepEqual(gke.map((e) => e.auditID), kept.map((e) => e.auditID));
  assert.ok(!gke.some((e) => e.objectRef?.resource === 'events' && !e.objectRef.apiGroup));
  // the namespace controller's deletecollection matches the policy's earlier Request rule
  for (const e of gke) if (e.objectRef?.resource === 'secrets' && e.verb !== 'deletecollection') assert.equal(e.level, 'Metadata', e.verb);
  assert.throws(() => run('verbose'), /unknown audit policy/);
});

test('simulateLevels: one stream per policy, same traffic', async () => {
  const { simulateLevels, TRAINING_POLICIES } = await import('../src/simulate/index.ts');
  const streams = simulateLevels({ seed: 5, durationMs: 30_000 });
  assert.deepEqual(streams.map((s) => s.policy), [...TRAINING_POLICIES]);
  const [md, , rr] = streams.map((s) => [...s.events]);
  assert.deepEqual(md!.map((e) => e.auditID), rr!.map((e) => e.auditID));
  assert.ok(md!.every((e) => e.level === 'Metadata'));
});

test('cli: kontext simulate --audit-level / --policy, with clear errors', async () => {
  const { spawnSync } = await import('node:child_process');
  const run = (...args: string[]) => spawnSync(process.execPath, ['bin/kontext.js', 'simulate', '--duration', '20s', ...args], { encoding: 'utf8' });
  const md = run('--audit-level', 'Metadata');
  assert.equal(md.status, 0, md.stderr);
  const evs = md.stdout.trim().split('\n').map((l) => JSON.parse(l) as AuditEvent);
  assert.ok(evs.length > 50 && evs.every((e) => e.level === 'Metadata' && !e.requestObject));
  const bad = run('--policy', 'verbose');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown audit policy "verbose"/);
  const both = run('--policy', 'metadata', '--audit-level', 'Request');
  assert.equal(both.status, 2);
  assert.match(both.stderr, /exclusive/);
  const lvl = run('--audit-level', 'Verbose');
  assert.equal(lvl.status, 2);
  assert.match(lvl.stderr, /--audit-level: must be Metadata, Request or RequestResponse/);
});

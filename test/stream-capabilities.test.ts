import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamCapabilities, BODY_AUDIT_POLICY } from '../src/pipeline/capabilities.ts';
import { simulate } from '../src/simulate/index.ts';
import { toKEvents } from '../src/label/data.ts';
import { renderMetrics } from '../src/util/metrics.ts';
import { createHttpApp, startHttpServer } from '../src/http/app.ts';
import type { Logger } from '../src/util/log.ts';
import type { KEvent } from '../src/types/pipeline.ts';

function capture(): { logger: Logger; lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const mk = (): Logger => ({
    debug: (msg, fields) => lines.push({ level: 'debug', msg, fields }), info: (msg, fields) => lines.push({ level: 'info', msg, fields }),
    warn: (msg, fields) => lines.push({ level: 'warn', msg, fields }), error: (msg, fields) => lines.push({ level: 'error', msg, fields }),
    child: () => mk(),
  });
  return { logger: mk(), lines };
}

const sim = (policy: string) => toKEvents(simulate({ seed: 2, durationMs: 90_000, policy }));

test('a RequestResponse stream with every field lacks nothing: no warning', () => {
  const { logger, lines } = capture();
  const c = new StreamCapabilities({ logger, params: { sample: 1500 } });
  c.observe(sim('request-response'));
  const r = c.report();
  assert.equal(r.decided, true);
  assert.equal(r.sampled, 1500);
  assert.deepEqual(r.missing, []);
  assert.equal(lines.filter((l) => l.level === 'warn').length, 0);
});

test('a Metadata stream lacks bodies: one warn line with the audit policy that fixes it, metric 0', async () => {
  const { logger, lines } = capture();
  const c = new StreamCapabilities({ logger, params: { sample: 1500 } });
  const evs = sim('metadata');
  c.observe(evs.slice(0, 700));
  assert.equal(c.report().decided, false, 'undecided before the sample is full');
  c.observe(evs.slice(700));
  c.observe(evs);
  assert.deepEqual(c.report().missing, ['requestObject', 'responseObject']);
  const warns = lines.filter((l) => l.level === 'warn');
  assert.equal(warns.length, 1);
  assert.match(warns[0]!.msg, /lacks requestObject, responseObject/);
  assert.equal(warns[0]!.fields!.auditPolicy, BODY_AUDIT_POLICY);
  assert.match(BODY_AUDIT_POLICY, /level: RequestResponse/);
  const m = await renderMetrics();
  assert.match(m, /kontext_stream_capability\{capability="requestObject"\} 0/);
  assert.match(m, /kontext_stream_capability\{capability="userAgent"\} 1/);
});

test('a stream without userAgent, annotations and groups (an export that dropped them) is told so; a Request stream lacks only responses', () => {
  const { logger, lines } = capture();
  const stripped: KEvent[] = sim('metadata').map((k) => {
    const { userAgent: _u, annotations: _a, ...a } = k.audit;
    return { ...k, audit: { ...a, user: { username: a.user.username } } };
  });
  const c = new StreamCapabilities({ logger, params: { sample: 1000 } });
  c.observe(stripped);
  assert.deepEqual(c.report().missing, ['requestObject', 'responseObject', 'userAgent', 'annotations', 'userGroups']);
  assert.match(lines.find((l) => l.level === 'warn')!.msg, /userAgent field in the log shipper/);
  const q = new StreamCapabilities({ logger, params: { sample: 1000 } });
  q.observe(sim('request'));
  assert.deepEqual(q.report().missing, ['responseObject']);
});

test('few writes leave bodies undecided; decide() settles a short stream', () => {
  const { logger } = capture();
  const c = new StreamCapabilities({ logger, params: { sample: 10_000, minWrites: 5 } });
  const reads = sim('metadata').filter((k) => k.audit.verb === 'get').slice(0, 50);
  c.observe(reads);
  c.decide();
  assert.equal(c.report().decided, true);
  assert.deepEqual(c.report().missing, []);
});

test('/readyz?verbose answers JSON with the details; /readyz stays plain text', async () => {
  const app = createHttpApp({ graphql: { endpoint: '/graphql', yoga: ((_q: unknown, res: any) => res.end()) as any }, ready: () => true, details: () => ({ stream: { missing: ['userAgent'] } }) });
  const srv = await startHttpServer(app, '127.0.0.1', 0);
  try {
    const plain = await fetch(`${srv.url}/readyz`);
    assert.equal(await plain.text(), 'ready\n');
    const v = await fetch(`${srv.url}/readyz?verbose`);
    assert.equal(v.status, 200);
    assert.deepEqual(await v.json(), { ready: true, stream: { missing: ['userAgent'] } });
  } finally { await srv.close(); }
});

test('the pipeline watches its stream: a Metadata replay reports missing bodies', async () => {
  const { Pipeline } = await import('../src/pipeline/pipeline.ts');
  const { Normalizer } = await import('../src/normalize/index.ts');
  const { createLabeler } = await import('../src/label/index.ts');
  const { createClusterer } = await import('../src/cluster/index.ts');
  const sink = {
    healthy: true, backlog: 0, backlogDocs: 0,
    async write(batch: any[]) { for (const w of batch) for (const r of w.receipts) r.receipt.settle(r.n); return { stored: batch.length, rejected: 0 }; },
    onStored() { return () => {}; },
    async close() {},
  };
  const p = new Pipeline({ normalize: new Normalizer({ lateness: 500 }), label: await createLabeler({}), cluster: createClusterer({}), sink: sink as any }, { flushInterval: 20, maxInFlight: 100_000 });
  p.push([...simulate({ seed: 2, durationMs: 20_000, policy: 'metadata' })]);
  await p.stop();
  const r = p.capabilities.report();
  assert.equal(r.decided, true);
  assert.ok(r.sampled > 0);
  assert.deepEqual(r.missing, ['requestObject', 'responseObject']);
});

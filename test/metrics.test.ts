import { test } from 'node:test';
import assert from 'node:assert/strict';
import { counter, gauge, histogram, renderMetrics } from '../src/util/metrics.ts';
import { createEsClient } from '../src/store/es-client.ts';
import { endpointOf } from '../src/store/es-metrics.ts';

test('counters and gauges keep their names, labels learned from use, values readable', async () => {
  const c = counter('kontext_test_things_total', 'Things.');
  c.inc();
  c.inc({ kind: 'a' }, 2);
  c.inc({ kind: 'a', where: 'x' });
  assert.equal(c.get(), 1); assert.equal(c.get({ kind: 'a' }), 2);
  const g = gauge('kontext_test_level', 'Level.');
  g.set(5, { q: 'x' }); g.inc({ q: 'x' }, 2);
  assert.equal(g.get({ q: 'x' }), 7);
  assert.equal(counter('kontext_test_things_total', 'Things.').get({ kind: 'a' }), 2, 'same name, same series');
  const text = await renderMetrics();
  assert.match(text, /# TYPE kontext_test_things_total counter/);
  assert.match(text, /^kontext_test_things_total 1$/m);
  assert.match(text, /^kontext_test_things_total\{kind="a"\} 2$/m);
  assert.match(text, /^kontext_test_things_total\{kind="a",where="x"\} 1$/m);
  assert.match(text, /# TYPE kontext_test_level gauge\nkontext_test_level\{q="x"\} 7/);
  assert.throws(() => gauge('kontext_test_things_total', 'x'), /is a counter/);
});

test('histograms have buckets, sum and count; process metrics are exported', async () => {
  const h = histogram('kontext_test_duration_seconds', 'Durations.', { labelNames: ['op'] });
  h.observe(0.003, { op: 'a' }); h.observe(2, { op: 'a' });
  const text = await renderMetrics();
  assert.match(text, /# TYPE kontext_test_duration_seconds histogram/);
  assert.match(text, /kontext_test_duration_seconds_bucket\{le="0.005",op="a"\} 1/);
  assert.match(text, /kontext_test_duration_seconds_bucket\{le="\+Inf",op="a"\} 2/);
  assert.match(text, /kontext_test_duration_seconds_sum\{op="a"\} 2.003/);
  assert.match(text, /kontext_test_duration_seconds_count\{op="a"\} 2/);
  for (const m of ['kontext_process_cpu_seconds_total', 'kontext_process_resident_memory_bytes', 'kontext_nodejs_eventloop_lag_seconds', 'kontext_nodejs_heap_size_used_bytes']) {
    assert.match(text, new RegExp(`^${m} \\d`, 'm'), m);
  }
});

test('Elasticsearch request latency is a histogram by endpoint and outcome', { skip: !process.env.ELASTICSEARCH_URL && 'needs ELASTICSEARCH_URL (npm test starts one)' }, async () => {
  assert.equal(endpointOf('/kontext-contexts/_bulk'), '_bulk');
  assert.equal(endpointOf('/kontext-contexts/_doc/abc'), '_doc');
  assert.equal(endpointOf('/'), 'root');
  const client = createEsClient({ elasticsearchUrl: process.env.ELASTICSEARCH_URL! }, { maxRetries: 0 });
  try {
    await client.cluster.health();
    await client.indices.get({ index: 'kontext-metrics-test-missing' }).catch(() => undefined);
    const text = await renderMetrics();
    assert.match(text, /kontext_es_request_duration_seconds_count\{endpoint="_cluster",outcome="ok"\} [1-9]/);
    assert.match(text, /kontext_es_request_duration_seconds_count\{endpoint="index",outcome="error"\} [1-9]/);
  } finally { await client.close(); }
});

/**
 * Retention where Elasticsearch has ILM (the default distribution; the test Elasticsearch has
 * none, so a recording stand-in answers): the policy is put, every template names it, the
 * indices behind the aliases get it, and kontext deletes nothing itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createEsClient } from '../src/store/es-client.ts';
import { setUpIndices } from '../src/pipeline/build.ts';
import { setLogSink } from '../src/util/log.ts';

setLogSink(() => {});

test('with ILM: policy <prefix>-retention, named by every template and set on existing indices', async () => {
  const seen: Array<{ method: string; path: string; body: any }> = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      const path = req.url!.split('?')[0]!;
      seen.push({ method: req.method!, path, body: raw ? JSON.parse(raw) : undefined });
      const send = (status: number, body: unknown) => { res.writeHead(status, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' }); res.end(req.method === 'HEAD' ? undefined : JSON.stringify(body)); };
      if (path === '/_ilm/status') return send(200, { operation_mode: 'RUNNING' });
      if (path.startsWith('/_index_template/')) return req.method === 'GET' ? send(404, { error: { type: 'resource_not_found_exception' }, status: 404 }) : send(200, { acknowledged: true });
      if (path.startsWith('/_ilm/policy/')) return send(200, { acknowledged: true });
      if (path === '/_alias/k-contexts' && req.method === 'HEAD') return send(200, {}); // contexts exist from an earlier run
      if (path.startsWith('/_alias/') && req.method === 'HEAD') return send(404, {});
      if (req.method === 'HEAD') return send(404, {}); // no single-index layout
      if (path.endsWith('/_mapping') || path.endsWith('/_settings')) return send(200, { acknowledged: true });
      send(404, { error: { type: 'unexpected', reason: `${req.method} ${path}` }, status: 404 });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = createEsClient({ elasticsearchUrl: `http://127.0.0.1:${(server.address() as any).port}` }, { maxRetries: 0 });
  try {
    const retention = await setUpIndices(client, { indexPrefix: 'k', retention: 7 * 86_400_000, indexReplicas: '1', indexShards: 2 });
    assert.equal(retention.mode, 'ilm');
    assert.deepEqual(await retention.sweep(), []);
    const policy = seen.find((s) => s.method === 'PUT' && s.path === '/_ilm/policy/k-retention');
    assert.deepEqual(policy?.body?.policy?.phases?.delete, { min_age: '168h', actions: { delete: {} } });
    const templates = seen.filter((s) => s.method === 'PUT' && s.path.startsWith('/_index_template/'));
    assert.deepEqual(templates.map((t) => t.path).sort(), ['/_index_template/k-contexts', '/_index_template/k-dead-letter', '/_index_template/k-members', '/_index_template/k-raw']);
    for (const t of templates) {
      assert.equal(t.body.template.settings.index['lifecycle.name'], 'k-retention', t.path);
      assert.equal(t.body.template.settings.index.number_of_replicas, 1);
      assert.equal(t.body.template.settings.index.number_of_shards, 2);
      assert.equal(typeof t.body.version, 'number');
    }
    const settings = seen.find((s) => s.method === 'PUT' && s.path === '/k-contexts/_settings');
    assert.deepEqual(settings?.body, { index: { number_of_replicas: 1, 'lifecycle.name': 'k-retention' } });
    assert.ok(!seen.some((s) => s.method === 'DELETE'), 'kontext deletes nothing itself');
    retention.stop();
  } finally {
    await client.close();
    server.close();
  }
});

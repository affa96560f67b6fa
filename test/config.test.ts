import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, ConfigError, parseDuration, parseBytes } from '../src/config/config.ts';
import { parseArgs } from '../src/cli/args.ts';

test('defaults, env, and flags layer in that order', () => {
  const c = loadConfig({}, {});
  assert.equal(c.forwardPort, 24224);
  assert.equal(c.contextMaxAge, 300_000);
  assert.equal(c.elasticsearchUrl, undefined);
  const e = loadConfig({}, { KONTEXT_FORWARD_PORT: '25000', ELASTICSEARCH_URL: 'http://es:9200' });
  assert.equal(e.forwardPort, 25000);
  assert.equal(e.elasticsearchUrl, 'http://es:9200');
  const f = loadConfig({ 'forward-port': '26000' }, { KONTEXT_FORWARD_PORT: '25000' });
  assert.equal(f.forwardPort, 26000);
});

test('bad values fail with messages naming the option and its source', () => {
  assert.throws(() => loadConfig({ 'forward-port': 'abc' }, {}), (e: Error) => e instanceof ConfigError && /--forward-port \(from flag\).*integer/.test(e.message));
  assert.throws(() => loadConfig({}, { KONTEXT_REORDER_WAIT: 'soon' }), /--reorder-wait \(from env KONTEXT_REORDER_WAIT\): not a duration/);
  assert.throws(() => loadConfig({ backend: 'gpu' }, {}), /must be one of auto, tensorflow, wasm, cpu/);
  assert.throws(() => loadConfig({ 'forward-tls-cert': 'a.pem' }, {}), /go together/);
  assert.throws(() => loadConfig({ 'forward-users': 'bob:pw' }, {}), /needs --forward-shared-key/);
  assert.throws(() => loadConfig({ 'elasticsearch-url': 'not a url' }, {}), /not a URL/);
});

test('durations, sizes and argv parsing', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('3'), 3000);
  assert.equal(parseBytes('64mb'), 64 * 1024 * 1024);
  const a = parseArgs(['ingest', '--rate=5', '--seed', '7', '--no-auth', 'x.jsonl', '--', '--weird'], new Set(['no-auth']));
  assert.deepEqual(a.positionals, ['ingest', 'x.jsonl', '--weird']);
  assert.deepEqual(a.flags, { rate: '5', seed: '7', 'no-auth': true });
});

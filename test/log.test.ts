import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, setLogFormat, setLogLevel, setLogSink } from '../src/util/log.ts';

function capture(format: 'json' | 'ecs' | 'pretty', fn: () => void): string[] {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  setLogFormat(format);
  try { fn(); } finally {
    setLogFormat('auto');
    setLogSink((l) => { process.stderr.write(l + '\n'); });
  }
  return lines;
}

test('json logs: level names, bindings, fields, and errors keep their stack', () => {
  const lg = createLogger({ component: 'test' });
  const lines = capture('json', () => { lg.info('hello', { n: 1 }); lg.error('boom', { err: new TypeError('bad thing'), cause: new Error('inner') }); });
  assert.equal(lines.length, 2);
  const [a, b] = lines.map((l) => JSON.parse(l) as Record<string, any>);
  assert.equal(a!.level, 'info'); assert.equal(a!.msg, 'hello'); assert.equal(a!.component, 'test'); assert.equal(a!.n, 1);
  assert.ok(!Number.isNaN(Date.parse(a!.time)));
  assert.equal(b!.level, 'error');
  assert.equal(b!.err.type, 'TypeError'); assert.equal(b!.err.message, 'bad thing');
  assert.match(b!.err.stack, /TypeError: bad thing\n\s+at /);
  assert.match(b!.cause.stack, /Error: inner/);
});

test('the level applies to loggers created before it was set', () => {
  const lg = createLogger({ component: 'early' });
  const lines = capture('json', () => {
    setLogLevel('warn');
    lg.info('dropped'); lg.warn('kept');
    setLogLevel('debug');
    lg.debug('debug kept');
    setLogLevel('info');
  });
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { msg: string }).msg), ['kept', 'debug kept']);
});

test('ecs logs carry @timestamp, log.level, message and error.stack_trace', () => {
  const lg = createLogger({ component: 'test' });
  const lines = capture('ecs', () => lg.warn('ecs line', { err: new Error('down') }));
  const o = JSON.parse(lines[0]!) as Record<string, any>;
  assert.equal(o['log.level'], 'warn'); assert.equal(o.message, 'ecs line');
  assert.ok(o['ecs.version']); assert.ok(!Number.isNaN(Date.parse(o['@timestamp'])));
  assert.equal(o.error.message, 'down'); assert.match(o.error.stack_trace, /Error: down/);
});

test('pretty logs are readable lines, not JSON', () => {
  const lines = capture('pretty', () => createLogger().info('pretty line', { k: 'v' }));
  assert.ok(lines.some((l) => /INFO.*pretty line/.test(l)), lines.join('\n'));
  assert.throws(() => JSON.parse(lines[0]!));
});

#!/usr/bin/env node
// `npm test`: starts one real Elasticsearch for the whole run (unless ELASTICSEARCH_URL is set),
// runs every test/**/*.test.ts with Node's test runner, then stops Elasticsearch.
// Extra arguments are test files or name filters: `npm test -- test/forward.test.ts`.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { startLocalEs } = await import('../src/es-local/local-es.ts');

function findTests(dir) {
  const out = [];
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (e.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

const args = process.argv.slice(2);
const files = args.length ? args : findTests(path.join(root, 'test'));
// Type errors fail the run before any test does.
if (!args.length) {
  const tsc = spawn(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  const rc = await new Promise((r) => tsc.on('exit', (c) => r(c ?? 1)));
  if (rc !== 0) { process.stderr.write('typecheck failed\n'); process.exit(1); }
}
let es;
const env = { ...process.env };
if (!env.ELASTICSEARCH_URL) {
  process.stderr.write('starting local Elasticsearch for the tests...\n');
  es = await startLocalEs({ dataName: `test-${process.pid}`, fresh: true, heap: '1g', removeOnStop: true });
  env.ELASTICSEARCH_URL = es.url;
  // fault-injection tests pause this Elasticsearch (SIGSTOP/SIGCONT its process group)
  env.KONTEXT_TEST_ES_PID = String(es.pid);
  process.stderr.write(`Elasticsearch up at ${es.url}\n`);
}
const stopEs = async () => { if (es) { await es.stop(); es = undefined; } };
process.on('SIGINT', () => { void stopEs().then(() => process.exit(130)); });
process.on('SIGTERM', () => { void stopEs().then(() => process.exit(143)); });

const child = spawn(process.execPath, [
  '--import', 'tsx',
  '--test', '--test-reporter=spec', '--test-concurrency=1',
  ...files,
], { cwd: root, env, stdio: 'inherit' });
const code = await new Promise((r) => child.on('exit', (c, s) => r(c ?? (s ? 1 : 0))));
await stopEs();
process.exit(code);

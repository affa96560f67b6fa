/**
 * Operational failures through the real CLI (bin/kontext.js as a child process): one clear line,
 * no stack trace, a non-zero exit. Usage errors exit 2, operational failures 1.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deleteIndices, esUrl, testClient, uniquePrefix } from './helpers/es.ts';
import { freePort } from './helpers/kontext-proc.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'kontext-cli-errors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function kontext(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 90_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(ROOT, 'bin/kontext.js'), ...args], { cwd: ROOT, env: { ...process.env, KONTEXT_LOG_FORMAT: 'json', ...env } });
    let stdout = ''; let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`kontext ${args.join(' ')} did not exit: ${stderr}`)); }, timeoutMs);
    p.on('exit', (code) => { clearTimeout(timer); resolve({ code: code ?? 1, stdout, stderr }); });
  });
}

/** the `kontext <cmd>: ...` line, asserted to be the only non-log line and free of stack frames */
function errorLine(stderr: string, cmd: string): string {
  assert.doesNotMatch(stderr, /^\s+at /m, `no stack trace:\n${stderr}`);
  const lines = stderr.split('\n').filter((l) => l.startsWith(`kontext ${cmd}: `));
  assert.equal(lines.length, 1, stderr);
  return lines[0]!;
}

const goodFile = path.join(dir, 'one.jsonl');
writeFileSync(goodFile, JSON.stringify({ kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID: '0b1c2d3e-0000-4000-8000-000000000001', stage: 'ResponseComplete', requestURI: '/api/v1/namespaces/default/pods', verb: 'list', user: { username: 'oidc:alice@example.com' }, objectRef: { resource: 'pods', namespace: 'default', apiVersion: 'v1' }, responseStatus: { code: 200 }, requestReceivedTimestamp: '2026-01-01T00:00:00.000000Z', stageTimestamp: '2026-01-01T00:00:00.010000Z' }) + '\n');

test('a typo in an option gets a suggestion; another command\'s option is named as such (exit 2)', async () => {
  const a = await kontext(['serve', '--forwrd-port', '1']);
  assert.equal(a.code, 2);
  assert.match(errorLine(a.stderr, 'serve'), /unknown option --forwrd-port \(did you mean --forward-port\?\)/);
  const b = await kontext(['ingest', '--http-port', '1', goodFile]);
  assert.equal(b.code, 2);
  assert.match(errorLine(b.stderr, 'ingest'), /--http-port.*an option of kontext serve/);
  const c = await kontext(['ingest', '--context-idle', '5x', goodFile]);
  assert.equal(c.code, 2);
  assert.match(errorLine(c.stderr, 'ingest'), /--context-idle \(from flag\): not a duration/);
});

test('a typo in a command name gets a suggestion (exit 2); a name like no command gets none', async () => {
  const a = await kontext(['evaluat']);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /^kontext: unknown command "evaluat" \(did you mean evaluate\?\)$/m);
  const b = await kontext(['xyzzy']);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /^kontext: unknown command "xyzzy"$/m);
});

test('--help of each command lists only its own options', async () => {
  const ingest = await kontext(['ingest', '--help']);
  assert.equal(ingest.code, 0);
  assert.match(ingest.stdout, /--elasticsearch-url/);
  assert.match(ingest.stdout, /--no-progress/);
  for (const serveOnly of ['--http-port', '--forward-port', '--auth-tokens', '--max-connections', '--simulate']) assert.doesNotMatch(ingest.stdout, new RegExp(`${serveOnly}\\b`), serveOnly);
  const serve = await kontext(['serve', '--help']);
  assert.match(serve.stdout, /--simulate-speed[\s\S]*--forward-port <n>[\s\S]*--http-port <n>/);
  assert.doesNotMatch(serve.stdout, /--no-progress/);
});

test('Elasticsearch unreachable: each retry is logged as it happens, then one clear line (exit 1)', async () => {
  const port = await freePort();
  const r = await kontext(['ingest', '--elasticsearch-url', `http://127.0.0.1:${port}`, '--elasticsearch-wait', '3s', '--no-progress', goodFile]);
  assert.equal(r.code, 1, r.stderr);
  const retries = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; msg: string }).filter((l) => /not reachable yet, retrying/.test(l.msg));
  assert.ok(retries.length >= 2, `retries logged: ${r.stderr}`);
  assert.equal(retries[0]!.level, 'warn');
  assert.match(errorLine(r.stderr, 'ingest'), new RegExp(`Elasticsearch at http://127\\.0\\.0\\.1:${port} not reachable after \\d+ s \\(\\d+ attempts\\): .*ECONNREFUSED.*ELASTICSEARCH_URL`));
});

test('a bad model directory and a bad rules file stop before anything starts (exit 2)', async () => {
  const missing = await kontext(['ingest', '--model', path.join(dir, 'no-such-model'), goodFile]);
  assert.equal(missing.code, 2);
  assert.match(errorLine(missing.stderr, 'ingest'), /--model: no such directory/);
  mkdirSync(path.join(dir, 'empty-model'));
  const empty = await kontext(['serve', '--model', path.join(dir, 'empty-model'), '--http-port', '0', '--forward-port', '0']);
  assert.equal(empty.code, 2);
  assert.match(errorLine(empty.stderr, 'serve'), /--model: .*empty-model is not a labeling model \(no model\.json/);
  const rules = path.join(dir, 'bad-rules.yaml');
  writeFileSync(rules, '- detection: broken\n  condition: verb = \n');
  const bad = await kontext(['ingest', '--rules', rules, goodFile]);
  assert.equal(bad.code, 2);
  assert.match(errorLine(bad.stderr, 'ingest'), /--rules: invalid detection rules: .*bad-rules\.yaml/);
});

test('ingest of a file with no valid audit events exits 1 and says so', async () => {
  const prefix = uniquePrefix('cli-errors');
  const junk = path.join(dir, 'junk.jsonl');
  writeFileSync(junk, 'not json\n{"also": "broken"\n\n');
  const r = await kontext(['ingest', '--index-prefix', prefix, '--no-progress', '--elasticsearch-url', esUrl(), junk]);
  const es = testClient();
  await deleteIndices(es, prefix); await es.close();
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /junk\.jsonl:1: /, 'bad lines named');
  assert.match(errorLine(r.stderr, 'ingest'), /junk\.jsonl: no valid audit events \(\d+ lines?, 2 bad\)/);
});

test('serve on a port already in use: one line naming the address (exit 1)', async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const prefix = uniquePrefix('cli-errors');
    const r = await kontext(['serve', '--index-prefix', prefix, '--elasticsearch-url', esUrl(), '--http-host', '127.0.0.1', '--http-port', String(port), '--forward-host', '127.0.0.1', '--forward-port', '0', '--no-auth', '--log-level', 'warn']);
    const es = testClient();
    await deleteIndices(es, prefix); await es.close();
    assert.equal(r.code, 1, r.stderr);
    assert.match(errorLine(r.stderr, 'serve'), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use.*--http-port`));
  } finally { blocker.close(); }
});

/**
 * Credentials never reach output: kontext runs with known secrets in the environment and in
 * flags (Elasticsearch password in ELASTICSEARCH_URL and as a flag, API key, bearer tokens,
 * forward shared key and user passwords), its whole output (start-up log, banner, --help,
 * a configuration error, /metrics, a refused request) is searched for them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { esUrl, uniquePrefix, testClient, deleteIndices } from './helpers/es.ts';
import { addConfigSecrets, addSecretsFrom, clearSecrets, redactText } from '../src/util/redact.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin/kontext.js');

const PW = 'esPw-7Hq2xZ91kL';
const PW_FLAG = 'esPwFlag-4Tr8mN';
const KEY_SECRET = 'apiKeySecret-Vb3sQ0';
const API_KEY = Buffer.from(`keyid-1:${KEY_SECRET}`).toString('base64');
const TOKEN = 'bearerTok-9Jd3aP0q';
const TOKEN2 = 'bearerTok2-Xc81Lm';
const SHARED = 'sharedKey-Ww62Rz';
const FWD_PW = 'fwdUserPw-Ke55Nb';
const SECRETS = [PW, PW_FLAG, KEY_SECRET, API_KEY, TOKEN, TOKEN2, SHARED, FWD_PW];

function run(args: string[], env: Record<string, string>, onLine?: (out: string, kill: (s: NodeJS.Signals) => void) => void, timeoutMs = 120_000): Promise<{ code: number | null; out: string }> {
  const proc = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const on = (d: Buffer) => { out += d.toString('utf8'); onLine?.(out, (s) => proc.kill(s)); };
  proc.stdout.on('data', on);
  proc.stderr.on('data', on);
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  return new Promise((r) => proc.once('exit', (code) => { clearTimeout(timer); r({ code, out }); }));
}

function assertNoSecret(text: string, where: string): void {
  for (const s of SECRETS) assert.ok(!text.includes(s), `${where} shows the secret ${s}`);
}

test('redaction rules: URL passwords, auth values, secret fields, registered secrets', () => {
  clearSecrets();
  assert.equal(redactText('to http://elastic:s3cr3t@es:9200/x'), 'to http://elastic:[redacted]@es:9200/x');
  assert.equal(redactText('Authorization: ApiKey dGhpc2lzYWtleQ=='), 'Authorization: ApiKey [redacted]');
  assert.equal(redactText('{"password":"hunter22","user":"bob"}'), '{"password":"[redacted]","user":"bob"}');
  assert.equal(redactText('https://hooks.example/x?token=abcdef123&a=1'), 'https://hooks.example/x?token=[redacted]&a=1');
  addConfigSecrets({ forwardUsers: 'fb:pass-one,fb2:pass-two', authTokens: 'tokA-1234, tokB-5678' });
  assert.equal(redactText('pass-one pass-two tokA-1234 tokB-5678 ok'), '[redacted] [redacted] [redacted] [redacted] ok');
  addSecretsFrom({ ELASTICSEARCH_URL: 'http://u:p%40ss-word@h' }, ['--elasticsearch-password=flagged-pw']);
  assert.equal(redactText('p@ss-word p%40ss-word flagged-pw'), '[redacted] [redacted] [redacted]');
  clearSecrets();
});

test('a run of kontext given known secrets shows none of them anywhere', async () => {
  const es = new URL(esUrl());
  const prefix = uniquePrefix('redact');
  const env = {
    ELASTICSEARCH_URL: `http://elastic:${PW}@${es.host}`,
    ELASTICSEARCH_API_KEY: API_KEY,
    KONTEXT_AUTH_TOKENS: `${TOKEN},${TOKEN2}`,
  };
  const flags = ['--index-prefix', prefix, '--http-host', '127.0.0.1', '--http-port', '0', '--forward-host', '127.0.0.1', '--forward-port', '0',
    '--forward-shared-key', SHARED, '--forward-users', `fluentbit:${FWD_PW}`, '--elasticsearch-password', PW_FLAG, '--log-level', 'debug', '--flush-interval', '200ms'];
  let metrics = '';
  let refused = '';
  let asked = false;
  try {
    const served = await run(['serve', ...flags], env, (out, kill) => {
      const m = /GraphQL\s+(http:\/\/[^\s]+)\/graphql/.exec(out);
      if (!m || asked) return;
      asked = true;
      const base = m[1]!;
      void (async () => {
        try {
          metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
          refused = await (await fetch(`${base}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}x`, 'content-type': 'application/json' }, body: '{"query":"{__typename}"}' })).text();
        } finally { kill('SIGTERM'); }
      })();
    });
    assert.ok(asked, `serve started and printed its banner:\n${served.out.slice(-3000)}`);
    assert.match(served.out, new RegExp(`Elasticsearch\\s+http://elastic:\\[redacted\\]@${es.host.replace(/\./g, '\\.')}`));
    assert.match(metrics, /kontext_/);
    assertNoSecret(served.out, 'serve output');
    assertNoSecret(metrics, '/metrics');
    assertNoSecret(refused, 'a refused request');

    const help = await run(['serve', '--help', ...flags], env);
    assert.match(help.out, /--elasticsearch-ca-fingerprint/);
    assertNoSecret(help.out, '--help');

    const bad = await run(['serve', ...flags, '--index-replicas', 'lots', '--alert-webhook-url', `https://hooks.example/x?token=${TOKEN2}`], env);
    assert.equal(bad.code, 2);
    assert.match(bad.out, /--index-replicas/);
    assertNoSecret(bad.out, 'a configuration error');
  } finally {
    const client = testClient();
    await deleteIndices(client, prefix);
    await client.close();
  }
});

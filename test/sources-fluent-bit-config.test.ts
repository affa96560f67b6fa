/**
 * plugin/fluent-bit: the configurations (classic and YAML) parse, match kontext's defaults, say
 * the same in both formats, and agree with docker-compose.yml and the Kubernetes DaemonSet that
 * run them.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../src/config/config.ts';
import { parseAuditTime } from '../src/normalize/time.ts';
import { readAuditLog } from './fixtures/fluent-bit/make-fixtures.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'plugin/fluent-bit');
const read = (f: string) => readFileSync(path.join(root, f), 'utf8');

type Section = { name: string; props: Map<string, string> };

/** Fluent Bit classic configuration: [SECTION] headers, "key value" lines, # comments. */
function parseClassic(text: string, file: string): Section[] {
  const out: Section[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const h = /^\[([A-Z_]+)\]$/.exec(line);
    if (h) { out.push({ name: h[1]!, props: new Map() }); return; }
    const kv = /^(\S+)\s+(.+)$/.exec(line);
    assert.ok(kv, `${file}:${i + 1}: not "key value": ${raw}`);
    assert.ok(out.length, `${file}:${i + 1}: property outside a section`);
    const key = kv[1]!.toLowerCase();
    assert.ok(!out.at(-1)!.props.has(key), `${file}:${i + 1}: duplicate ${kv[1]}`);
    out.at(-1)!.props.set(key, kv[2]!.trim());
  });
  return out;
}

/**
 * Fluent Bit YAML configuration: service, parsers, pipeline.{inputs,filters,outputs}, as the same
 * sections as the classic format (keys lower-cased, values as Fluent Bit reads them: text).
 */
function parseYamlConfig(text: string, file: string): { sections: Section[]; parsers: Section[] } {
  const doc = parseYaml(text) as Record<string, unknown>;
  const known = new Set(['service', 'parsers', 'pipeline']);
  for (const k of Object.keys(doc)) assert.ok(known.has(k), `${file}: unknown top-level section ${k}`);
  const props = (o: unknown, where: string) => {
    assert.ok(o && typeof o === 'object' && !Array.isArray(o), `${file}: ${where} is a mapping`);
    return new Map(Object.entries(o as Record<string, unknown>).map(([k, v]) => {
      assert.ok(v !== null && typeof v !== 'object', `${file}: ${where}.${k} is a scalar`);
      return [k.toLowerCase(), String(v)];
    }));
  };
  const list = (v: unknown, name: string, where: string) => {
    if (v === undefined) return [];
    assert.ok(Array.isArray(v), `${file}: ${where} is a list`);
    return v.map((o, i) => ({ name, props: props(o, `${where}[${i}]`) }));
  };
  const pipeline = (doc.pipeline ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(pipeline)) assert.ok(['inputs', 'filters', 'outputs'].includes(k), `${file}: unknown pipeline.${k}`);
  const sections = [
    ...(doc.service ? [{ name: 'SERVICE', props: props(doc.service, 'service') }] : []),
    ...list(pipeline.inputs, 'INPUT', 'pipeline.inputs'),
    ...list(pipeline.filters, 'FILTER', 'pipeline.filters'),
    ...list(pipeline.outputs, 'OUTPUT', 'pipeline.outputs'),
  ];
  return { sections, parsers: list(doc.parsers, 'PARSER', 'parsers') };
}

/** booleans are case-insensitive in Fluent Bit (On / on / true) */
const normal = (v: string) => (/^(on|off|true|false)$/i.test(v) ? v.toLowerCase().replace('true', 'on').replace('false', 'off') : v);
const asRecord = (s: Section[]) => s.map((x) => ({ name: x.name, props: Object.fromEntries([...x.props].map(([k, v]) => [k, normal(v)]).sort()) }));

const section = (s: Section[], name: string, plugin?: string) => {
  const found = s.filter((x) => x.name === name && (!plugin || x.props.get('name') === plugin));
  assert.equal(found.length, 1, `one [${name}]${plugin ? ` ${plugin}` : ''}`);
  return found[0]!.props;
};

/** "32MB", "64M", "1MB" → bytes */
const size = (v: string) => {
  const m = /^(\d+)\s*([KMG])B?$/i.exec(v);
  assert.ok(m, `size ${v}`);
  return Number(m[1]) * 1024 ** ('KMG'.indexOf(m[2]!.toUpperCase()) + 1);
};

/** strptime as Fluent Bit's parser applies it, for the directives used */
function strptimeRegex(fmt: string): RegExp {
  const map: Record<string, string> = { '%Y': '\\d{4}', '%m': '\\d{2}', '%d': '\\d{2}', '%H': '\\d{2}', '%M': '\\d{2}', '%S': '\\d{2}', '%L': '\\d+' };
  return new RegExp('^' + fmt.replace(/%[A-Za-z]|[.*+?^${}()|[\]\\]/g, (t) => map[t] ?? (t.startsWith('%') ? (() => { throw new Error(`unsupported ${t}`); })() : `\\${t}`)) + '$');
}

const defaults = loadConfig({}, {});

function checkForwardOutput(out: Map<string, string>, tag: string, file: string): void {
  assert.equal(out.get('match'), tag, `${file}: the output matches the input tag`);
  assert.equal(out.get('host'), '${KONTEXT_HOST}');
  assert.equal(out.get('port'), '${KONTEXT_PORT}');
  assert.equal(out.get('shared_key'), '${KONTEXT_SHARED_KEY}');
  assert.ok(out.get('self_hostname'), 'Self_Hostname set');
  assert.equal(out.get('require_ack_response'), 'true', 'ack only after kontext stored the events');
  assert.match(out.get('retry_limit') ?? '', /^(no_limits|false|off)$/i, 'retries unlimited');
  assert.ok(Number(out.get('net.keepalive_idle_timeout')) * 1000 < defaults.idleTimeout, 'reconnects before kontext closes idle connections');
  if (out.has('compress')) assert.equal(out.get('compress'), 'gzip', 'kontext inflates gzip only');
}

describe('plugin/fluent-bit', () => {
  const main = parseClassic(read('plugin/fluent-bit/fluent-bit.conf'), 'fluent-bit.conf');
  const parsers = parseClassic(read('plugin/fluent-bit/parsers.conf'), 'parsers.conf');
  const webhook = parseClassic(read('plugin/fluent-bit/fluent-bit-webhook.conf'), 'fluent-bit-webhook.conf');

  test('fluent-bit.conf tails ${AUDIT_LOG_PATH} with the audit parser, offsets DB, large buffers, filesystem storage', () => {
    const service = section(main, 'SERVICE');
    assert.ok(existsSync(path.join(dir, service.get('parsers_file')!)), 'Parsers_File next to the config');
    assert.ok(service.get('storage.path'));
    const tail = section(main, 'INPUT', 'tail');
    assert.equal(tail.get('path'), '${AUDIT_LOG_PATH}');
    assert.ok(tail.get('db'));
    assert.equal(tail.get('storage.type'), 'filesystem');
    assert.ok(size(tail.get('buffer_max_size')!) >= 16 * 1024 ** 2, 'RequestResponse lines are large');
    assert.ok(size(tail.get('mem_buf_limit')!) >= size(tail.get('buffer_max_size')!));
    const parser = parsers.find((p) => p.props.get('name') === tail.get('parser'));
    assert.ok(parser, `parser ${tail.get('parser')} is defined in parsers.conf`);
    checkForwardOutput(section(main, 'OUTPUT', 'forward'), tail.get('tag')!, 'fluent-bit.conf');
  });

  test('parsers.conf: JSON, time from requestReceivedTimestamp, kept in the record, format matches real events', () => {
    const p = parsers.find((x) => x.props.get('name') === 'kube-audit')!.props;
    assert.equal(p.get('format'), 'json');
    assert.equal(p.get('time_key'), 'requestReceivedTimestamp');
    assert.equal(p.get('time_format'), '%Y-%m-%dT%H:%M:%S.%LZ');
    assert.match(p.get('time_keep')!, /^on$/i, 'kontext needs the field in the record');
    const re = strptimeRegex(p.get('time_format')!);
    for (const l of readAuditLog()) {
      assert.match(l.record.requestReceivedTimestamp as string, re);
      assert.ok(Number.isFinite(parseAuditTime(l.record.requestReceivedTimestamp)));
    }
  });

  test('fluent-bit-webhook.conf: http input forwarding to kontext with the same settings', () => {
    const http = section(webhook, 'INPUT', 'http');
    assert.ok(Number(http.get('port')) > 0);
    assert.equal(http.get('storage.type'), 'filesystem');
    checkForwardOutput(section(webhook, 'OUTPUT', 'forward'), http.get('tag')!, 'fluent-bit-webhook.conf');
  });

  test('the YAML configurations say exactly what the classic ones say', () => {
    const yamlMain = parseYamlConfig(read('plugin/fluent-bit/fluent-bit.yaml'), 'fluent-bit.yaml');
    const yamlWebhook = parseYamlConfig(read('plugin/fluent-bit/fluent-bit-webhook.yaml'), 'fluent-bit-webhook.yaml');
    // the YAML form carries its parsers inline instead of Parsers_File
    const classicMain = main.map((x) => (x.name === 'SERVICE' ? { ...x, props: new Map([...x.props].filter(([k]) => k !== 'parsers_file')) } : x));
    assert.deepEqual(asRecord(yamlMain.sections), asRecord(classicMain));
    assert.deepEqual(asRecord(yamlMain.parsers), asRecord(parsers));
    assert.deepEqual(asRecord(yamlWebhook.sections), asRecord(webhook));
    assert.deepEqual(yamlWebhook.parsers, []);
    const tail = section(yamlMain.sections, 'INPUT', 'tail');
    assert.ok(yamlMain.parsers.some((p) => p.props.get('name') === tail.get('parser')), 'the tail parser is defined inline');
    checkForwardOutput(section(yamlMain.sections, 'OUTPUT', 'forward'), tail.get('tag')!, 'fluent-bit.yaml');
    checkForwardOutput(section(yamlWebhook.sections, 'OUTPUT', 'forward'), section(yamlWebhook.sections, 'INPUT', 'http').get('tag')!, 'fluent-bit-webhook.yaml');
  });

  test('docker-compose.yml runs this configuration with matching environment and ports', () => {
    const compose = read('docker-compose.yml');
    const fb = compose.slice(compose.indexOf('\n  fluent-bit:'));
    assert.match(fb, /\.\/plugin\/fluent-bit:\/fluent-bit\/etc\/kontext/);
    const conf = /"-c", "\/fluent-bit\/etc\/kontext\/([^"]+)"/.exec(fb)?.[1];
    assert.ok(conf && existsSync(path.join(dir, conf)), `compose runs ${conf}, which exists`);
    const vars = new Set([...read(`plugin/fluent-bit/${conf}`).matchAll(/\$\{([A-Z_]+)\}/g)].map((m) => m[1]!));
    for (const v of vars) if (v !== 'HOSTNAME') assert.match(fb, new RegExp(`- ${v}=`), `compose sets ${v}`);
    const port = /- KONTEXT_PORT=(\d+)/.exec(fb)?.[1];
    assert.equal(Number(port), defaults.forwardPort, 'Fluent Bit sends to kontext\'s default forward port');
    const kontext = compose.slice(compose.indexOf('\n  kontext:'), compose.indexOf('\n  fluent-bit:'));
    assert.match(kontext, new RegExp(`KONTEXT_FORWARD_PORT=${port}`));
    const fbKey = /- KONTEXT_SHARED_KEY=(\S+)/.exec(fb)?.[1];
    assert.match(kontext, new RegExp(`KONTEXT_FORWARD_SHARED_KEY=${fbKey!.replace(/[$.*+?^{}()|[\]\\]/g, '\\$&')}`), 'the same shared key on both ends');
  });

  test('the Kubernetes DaemonSet sets every variable the configuration uses', () => {
    const ds = read('plugin/kubernetes/fluent-bit-audit.yaml');
    const vars = new Set([...read('plugin/fluent-bit/fluent-bit.conf').matchAll(/\$\{([A-Z_]+)\}/g)].map((m) => m[1]!));
    for (const v of vars) if (v !== 'HOSTNAME') assert.match(ds, new RegExp(`name: ${v}\\b`), `DaemonSet sets ${v}`);
    assert.match(ds, /mountPath: \/fluent-bit\/etc\/kontext/);
    assert.match(ds, /mountPath: \/var\/lib\/fluent-bit\b/, 'state (DB, storage) on a host path');
    const storage = section(main, 'SERVICE').get('storage.path')!;
    assert.ok(storage.startsWith('/var/lib/fluent-bit/') && section(main, 'INPUT', 'tail').get('db')!.startsWith('/var/lib/fluent-bit/'));
  });

  test('audit policy keeps the background (no level None) and never logs secret bodies', () => {
    const policy = read('plugin/fluent-bit/audit-policy.yaml');
    assert.match(policy, /^apiVersion: audit\.k8s\.io\/v1$/m);
    assert.match(policy, /^kind: Policy$/m);
    assert.doesNotMatch(policy.replace(/#.*$/gm, ''), /level:\s*None/);
    const secretsRule = policy.indexOf('"secrets"');
    const firstBodyRule = policy.search(/level: (Request|RequestResponse)\b/);
    assert.ok(secretsRule > 0 && secretsRule < firstBodyRule, 'secrets are matched (Metadata) before any rule with bodies');
    assert.match(policy, /- level: Metadata\s*$/, 'catch-all at Metadata');
  });

  test('the webhook kubeconfig posts to kontext\'s webhook path and port', () => {
    const kc = read('plugin/fluent-bit/audit-webhook-kubeconfig.yaml');
    const server = /^\s+server: (\S+)$/m.exec(kc)?.[1];
    const u = new URL(server!);
    assert.equal(u.pathname, '/webhook/audit');
    assert.equal(Number(u.port), defaults.httpPort);
    assert.match(kc, /token: /);
  });
});

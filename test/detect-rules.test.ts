/** Detection rules: the condition language, rules files (overrides, errors with lines), start-up refusal. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConditionError, evaluate, parseCondition, type Scope } from '../src/detect/condition.ts';
import { compileRules, DetectionEngine, RulesError, SHIPPED_RULES, createDetectionEngine, logDetections } from '../src/detect/index.ts';
import { detectionsFromConfig } from '../src/pipeline/build.ts';
import { ConfigError, loadConfig } from '../src/config/config.ts';
import type { Logger } from '../src/util/log.ts';

const scope: Scope = {
  macro: (n) => (n === 'kcreate' ? parseCondition('verb = create', scope) : undefined),
  list: (n) => (n === 'trusted' ? ['nginx', 'redis'] : undefined),
};
const cond = (c: string, obj: unknown) => evaluate(parseCondition(c, scope), obj);

const pod = {
  verb: 'create', user: { username: 'alice', groups: ['dev', 'system:authenticated'] }, sourceIPs: ['10.0.0.1'],
  objectRef: { resource: 'pods', namespace: 'shop' }, responseStatus: { code: 201 },
  metadata: { labels: { 'app.kubernetes.io/name': 'web' } },
  spec: { containers: [{ image: 'nginx:1.27', securityContext: { privileged: true } }, { image: 'docker.io/library/redis@sha256:abc' }] },
};

test('condition language: paths, fan-out, operators, lists, macros, functions', () => {
  assert.equal(cond('kcreate and objectRef.resource = pods and not objectRef.subresource exists', pod), true);
  assert.equal(cond('spec.containers[*].securityContext.privileged = true', pod), true);
  assert.equal(cond('spec.containers.securityContext.privileged = true', pod), true, 'a name applied to an array applies to each element');
  assert.equal(cond('spec.containers[1].securityContext.privileged exists', pod), false);
  assert.equal(cond('metadata.labels["app.kubernetes.io/name"] = web', pod), true);
  assert.equal(cond('user.groups = dev', pod), true, 'an array at the end compares element-wise');
  // in: every value in the set; intersects: any
  assert.equal(cond('repository(spec.containers[*].image) in (trusted)', pod), false, 'docker.io/library/redis is not in the list');
  assert.equal(cond('repository(spec.containers[*].image) in (trusted, docker.io/library/redis)', pod), true);
  assert.equal(cond('repository(spec.containers[*].image) intersects (trusted)', pod), true);
  assert.equal(cond('objectRef.name in (web)', pod), false, 'in on a missing field is false');
  assert.equal(cond('objectRef.name != web', pod), true, '!= on a missing field is true');
  assert.equal(cond('responseStatus.code startswith 2 and responseStatus.code >= 200 and responseStatus.code < 300', pod), true);
  assert.equal(cond('user.username glob "al*"', pod), true);
  assert.equal(cond('user.username glob "a?"', pod), false);
  assert.equal(cond('spec contains privileged', pod), true, 'contains on an object searches its JSON');
  assert.equal(cond('user.username icontains ALI', pod), true);
  assert.equal(cond('count(spec.containers) = 2 and count(spec.volumes) = 0', pod), true);
  assert.equal(cond('(verb = get or verb = create) and not (verb = get)', pod), true);
  assert.equal(cond('sourceIPs endswith ".1"', pod), true);
});

test('condition language: errors point at the problem', () => {
  const err = (c: string) => { try { parseCondition(c, { ...scope, roots: new Set(['verb', 'objectRef']) }); } catch (e) { assert.ok(e instanceof ConditionError); return `${e.message}@${e.pos}`; } return 'no error'; };
  assert.match(err('verb = '), /expected a value.*@7/);
  assert.match(err('kcreat and verb = get'), /unknown macro 'kcreat'.*@0/);
  assert.match(err('verb = get objectRef.name = x'), /missing 'and'\/'or'/);
  assert.match(err('(verb = get'), /expected '\)'/);
  assert.match(err('verb < many'), /compares numbers/);
  assert.match(err('objctRef.resource = pods'), /unknown field 'objctRef'/);
  assert.match(err('verb == get'), /expected a value/);
  assert.match(err('verb ! get'), /'!' must be followed by '='/);
  assert.match(err('eval(verb) = 1'), /unknown function 'eval'/);
  assert.match(err('verb = "get'), /unterminated string/);
});

const shipped = { file: SHIPPED_RULES, text: readFileSync(SHIPPED_RULES, 'utf8') };
const compileWith = (text: string) => compileRules([shipped, { file: 'user.yaml', text }]);
function rulesError(text: string): RulesError {
  try { compileWith(text); } catch (e) { assert.ok(e instanceof RulesError, String(e)); return e; }
  assert.fail('expected a RulesError');
}

test('rules files: invalid rules are refused with file, line and reason', () => {
  const cases: Array<[string, number, RegExp]> = [
    ['- detection: x\n  severity: high\n  event: verb = get and\n', 3, /detection 'x': event: unexpected end/],
    ['- detection: x\n  severity: urgent\n  event: verb = get\n', 2, /severity must be one of critical, high, medium, low, info/],
    ['- detection: x\n  severity: high\n  event: pod and objectRef.resourse = pods\n', 3, /unknown field 'objectRef.resourse'/],
    ['- detection: x\n  severity: high\n  event: no_such_macro\n', 3, /unknown macro 'no_such_macro'/],
    ['- detection: x\n  severity: high\n  evnt: verb = get\n', 3, /unknown key 'evnt'/],
    ['- detection: x\n  severity: high\n', 1, /exactly one of `event`, `context` or `correlation`/],
    ['- detection: x\n  severity: high\n  correlation: telepathy\n', 3, /unknown correlation 'telepathy'/],
    ['- detection: x\n  severity: high\n  context: forbiden > 2\n', 3, /unknown field 'forbiden'/],
    ['- list: l\n  items: [a, [b]]\n', 2, /items are plain values/],
    ['- list: nope\n  append: true\n  items: [a]\n', 1, /append to a list that is not defined/],
    ['- macro: m\n  condition: m\n- detection: x\n  severity: low\n  event: m\n', 2, /macro 'm' uses itself/],
    ['\n\n- detection: x\n  severity: high\n  severity: low\n', 5, /YAML: Map keys must be unique/],
    ['detection: x\n', 1, /a YAML list/],
    ['- foo: bar\n', 1, /entry without `list`, `macro` or `detection`/],
  ];
  for (const [text, line, reason] of cases) {
    const e = rulesError(text);
    assert.equal(e.file, 'user.yaml', text);
    assert.equal(e.line, line, `${JSON.stringify(text)} → ${e.message}`);
    assert.match(e.reason, reason, text);
    assert.match(e.message, new RegExp(`^user\\.yaml:${line}: `));
  }
  // a user list override that breaks a shipped macro is reported where it is used
  const e = rulesError('- macro: kcreate\n  condition: verb = \n');
  assert.match(e.message, /user\.yaml:2: macro 'kcreate'/);
});

test('rules files: user lists, macros and detections override the shipped ones', () => {
  const base = new DetectionEngine(compileRules([shipped]), { stateful: false });
  const ev = (over: Record<string, unknown>) => ({
    audit: { kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Request', auditID: String(Math.random()), stage: 'ResponseComplete', requestURI: '/',
      verb: 'create', user: { username: 'alice' }, objectRef: { resource: 'namespaces', name: 'shop' }, responseStatus: { code: 201 },
      requestReceivedTimestamp: '', stageTimestamp: '', ...over } as any,
    time: 0,
  });
  assert.ok(base.eventMatches(ev({})).includes('create-disallowed-namespace'));
  assert.ok(base.eventMatches(ev({})).includes('disallowed-k8s-user'));
  const user = new DetectionEngine(compileWith([
    '- list: allowed_namespaces', '  append: true', '  items: [shop]',
    '- list: allowed_k8s_users', '  items: [alice]',
    '- detection: create-nodeport-service', '  severity: high',
    '- detection: port-forward', '  enabled: false',
    '- macro: user_known_exec_pod_activities', '  condition: user.username = oncall',
    '- detection: pv-deleted', '  severity: high', '  desc: a persistent volume deleted', '  event: verb = delete and objectRef.resource = persistentvolumes',
  ].join('\n')), { stateful: false });
  assert.ok(!user.eventMatches(ev({})).includes('create-disallowed-namespace'), 'appended namespace allowed');
  assert.ok(user.eventMatches(ev({ objectRef: { resource: 'namespaces', name: 'kube-public' } })).length >= 0);
  assert.ok(!user.eventMatches(ev({})).includes('disallowed-k8s-user'), 'replaced user list');
  const d = (n: string) => user.rules.detections.find((x) => x.name === n)!;
  assert.equal(d('create-nodeport-service').severity, 'high');
  assert.ok(d('create-nodeport-service').event, 'severity override keeps the shipped condition');
  assert.equal(d('port-forward').enabled, false);
  assert.ok(!user.eventMatches(ev({ verb: 'create', objectRef: { resource: 'pods', subresource: 'portforward', namespace: 'a', name: 'p' } })).includes('port-forward'));
  const exec = (u: string) => user.eventMatches(ev({ user: { username: u }, objectRef: { resource: 'pods', subresource: 'exec', namespace: 'a', name: 'p' } }));
  assert.ok(exec('bob').includes('attach-exec-pod'));
  assert.ok(!exec('oncall').includes('attach-exec-pod'), 'macro override silences known activity');
  assert.ok(user.eventMatches(ev({ verb: 'delete', objectRef: { resource: 'persistentvolumes', name: 'pv1' } })).includes('pv-deleted'));
});

test('start-up: --rules is loaded after the shipped rules; an invalid file is a ConfigError naming file and line', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kontext-rules-'));
  const good = path.join(dir, 'good.yaml');
  writeFileSync(good, '- detection: pv-deleted\n  severity: high\n  event: verb = delete and objectRef.resource = persistentvolumes\n');
  const engine = detectionsFromConfig(loadConfig({ rules: good }, {}));
  assert.ok(engine.rules.detections.some((d) => d.name === 'pv-deleted'));
  assert.deepEqual(engine.rules.files, [SHIPPED_RULES, good]);
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(bad, '# mine\n- detection: x\n  severity: high\n  event: verb = get and and\n');
  assert.throws(() => detectionsFromConfig(loadConfig({ rules: bad }, {})), (e: unknown) => e instanceof ConfigError && e.message.includes(`${bad}:4: detection 'x': event:`));
  assert.throws(() => detectionsFromConfig(loadConfig({ rules: path.join(dir, 'missing.yaml') }, {})), /cannot read rules file/);
  // the start-up line names the detections Metadata-level logs cannot feed
  const lines: Array<Record<string, unknown>> = [];
  const log = { info: (msg: string, f?: Record<string, unknown>) => lines.push({ msg, ...f }) } as unknown as Logger;
  logDetections(createDetectionEngine(), log);
  assert.equal(lines.length, 1);
  assert.ok((lines[0]!.needRequestBodies as string[]).includes('create-privileged-pod'));
  assert.match(String(lines[0]!.note), /Metadata/);
});

test('start-up: kontext ingest --rules with an invalid file exits 2 with the file and line, before touching Elasticsearch', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kontext-rules-'));
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(bad, '- list: ok\n  items: [a]\n- detection: broken\n  severity: high\n  event: objectRef.resource = pods and\n');
  const input = path.join(dir, 'audit.jsonl');
  writeFileSync(input, '');
  const bin = new URL('../bin/kontext.js', import.meta.url).pathname;
  const res = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(process.execPath, [bin, 'ingest', '--rules', bad, '--elasticsearch-url', 'http://127.0.0.1:9', input], { timeout: 60_000 }, (err, _out, stderr) => {
      resolve({ code: err ? (err as NodeJS.ErrnoException & { code?: number }).code as unknown as number : 0, stderr });
    });
  });
  assert.equal(res.code, 2, res.stderr);
  assert.match(res.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5: detection 'broken': event: unexpected end of the condition`));
});

test('README: the shipped-detections table is what the rules file says (regenerate: node --import tsx scripts/readme-detections.ts)', async () => {
  const { detectionsMarkdown } = await import('../src/detect/docs.ts');
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const table = /<!-- DETECTIONS:START -->\n([\s\S]*)\n<!-- DETECTIONS:END -->/.exec(readme)?.[1];
  assert.ok(table, 'README has the detections table markers');
  assert.ok(table === detectionsMarkdown(), 'README detections table is up to date');
});

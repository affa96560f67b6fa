import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_FILE, DEFAULT_UI_URL, importSavedObjects, KibanaImportFailure, withIndexPrefix, withUiUrl } from '../src/cli/commands/kibana.ts';
import { parseRoute } from '../ui/src/router.ts';

const NDJSON = readFileSync(DEFAULT_FILE, 'utf8');
const objects = NDJSON.split('\n').filter((l) => l.trim()).map((l, i) => {
  try { return JSON.parse(l); } catch (e) { throw new Error(`line ${i + 1}: ${(e as Error).message}`); }
});

/** field name → ES type, from the contexts index template (nested objects flattened with dots). */
function mappingFields(): Map<string, string> {
  const tpl = JSON.parse(readFileSync(new URL('../schema/elasticsearch/contexts.json', import.meta.url), 'utf8'));
  const out = new Map<string, string>();
  const walk = (props: Record<string, any>, prefix: string) => {
    for (const [k, v] of Object.entries(props)) {
      const name = prefix + k;
      if (v.properties) walk(v.properties, name + '.');
      else out.set(name, v.enabled === false ? 'disabled' : (v.type ?? 'object'));
      for (const [sub, sv] of Object.entries((v.fields ?? {}) as Record<string, any>)) out.set(`${name}.${sub}`, sv.type);
    }
  };
  walk(tpl.template.mappings.properties, '');
  return out;
}
const FIELDS = mappingFields();
const AGGREGATABLE = (t: string | undefined) => t !== undefined && t !== 'text' && t !== 'disabled' && t !== 'object';

function kqlFields(kql: string): string[] {
  return [...kql.matchAll(/([A-Za-z_@][\w.]*)\s*(?::|<=|>=|<|>)/g)].map((m) => m[1]!);
}

test('every line is a saved object with a unique id', () => {
  assert.ok(objects.length >= 8);
  const ids = new Set<string>();
  for (const o of objects) {
    assert.equal(typeof o.id, 'string');
    assert.equal(typeof o.type, 'string');
    assert.equal(typeof o.attributes, 'object');
    assert.ok(Array.isArray(o.references), `${o.id} has references`);
    assert.equal(typeof o.coreMigrationVersion, 'string');
    assert.match(o.typeMigrationVersion, /^\d+\.\d+\.\d+$/);
    const key = `${o.type}:${o.id}`;
    assert.ok(!ids.has(key), `duplicate ${key}`);
    ids.add(key);
  }
  const types = objects.map((o) => o.type);
  for (const t of ['index-pattern', 'search', 'lens', 'dashboard']) assert.ok(types.includes(t), `has a ${t}`);
});

test('the data view targets the contexts index with the ECS @timestamp as time field', () => {
  const dv = objects.filter((o) => o.type === 'index-pattern');
  assert.equal(dv.length, 1);
  assert.equal(dv[0].attributes.title, 'kontext-contexts*');
  assert.equal(dv[0].attributes.timeFieldName, '@timestamp');
  assert.equal(FIELDS.get('@timestamp'), 'date');
  for (const f of Object.keys(JSON.parse(dv[0].attributes.fieldAttrs))) assert.ok(FIELDS.has(f), `fieldAttrs ${f} is mapped`);
});

test('the data view formats a context id as a link to its page in the web UI; --ui-url moves it', () => {
  const dv = objects.find((o) => o.type === 'index-pattern');
  const formats = JSON.parse(dv.attributes.fieldFormatMap);
  assert.equal(formats.id.id, 'url');
  assert.equal(formats.id.params.urlTemplate, `${DEFAULT_UI_URL}/context/{{value}}`);
  assert.equal(FIELDS.get('id'), 'keyword');
  // the template is a route of the UI: Kibana URL-encodes {{value}}, the UI decodes it
  const link = formats.id.params.urlTemplate.replace('{{value}}', encodeURIComponent('ctx/1 x'));
  assert.deepEqual(parseRoute(new URL(link).pathname), { view: 'context', id: 'ctx/1 x' });
  for (const s of objects.filter((o) => o.type === 'search')) assert.ok(s.attributes.columns.includes('id'), `${s.id} shows the linked id`);
  const moved = withUiUrl(NDJSON, 'https://kontext.example/base/').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const mdv = moved.find((o) => o.type === 'index-pattern');
  assert.equal(JSON.parse(mdv.attributes.fieldFormatMap).id.params.urlTemplate, 'https://kontext.example/base/context/{{value}}');
  assert.deepEqual(moved.filter((o) => o.type !== 'index-pattern'), objects.filter((o) => o.type !== 'index-pattern'), 'only the data view changes');
  assert.throws(() => withUiUrl(NDJSON, 'javascript:alert(1)'), /--ui-url/);
  assert.throws(() => withUiUrl(NDJSON, 'not a url'), /--ui-url/);
});

test('every reference resolves to an object in the file', () => {
  const byKey = new Set(objects.map((o) => `${o.type}:${o.id}`));
  for (const o of objects) {
    const names = new Set<string>();
    for (const r of o.references) {
      assert.ok(byKey.has(`${r.type}:${r.id}`), `${o.id} → ${r.type}:${r.id} resolves`);
      assert.ok(!names.has(r.name), `${o.id}: reference names unique (${r.name})`);
      names.add(r.name);
    }
  }
});

test('saved objects use the ECS name of a field that has one, kontext\'s own only where ECS has none', () => {
  // kontext field → its ECS twin on the same summary (src/store/ecs.ts)
  const twins: Record<string, string> = { start: '@timestamp', 'trigger.user': 'user.name', 'trigger.sourceIPs': 'source.ip', 'trigger.userAgent': 'user_agent.original', 'trigger.auditID': 'kubernetes.audit.auditID' };
  for (const ecs of Object.values(twins)) assert.ok(FIELDS.has(ecs), `${ecs} is mapped`);
  const used: string[] = [];
  for (const o of objects) {
    if (o.type === 'search') {
      used.push(...o.attributes.columns, ...o.attributes.sort.map(([f]: [string]) => f), ...kqlFields(JSON.parse(o.attributes.kibanaSavedObjectMeta.searchSourceJSON).query.query));
    } else if (o.type === 'lens') {
      for (const layer of Object.values(o.attributes.state.datasourceStates.formBased.layers) as any[]) for (const c of Object.values(layer.columns) as any[]) used.push(c.sourceField);
      used.push(...kqlFields(o.attributes.state.query.query));
    } else if (o.type === 'index-pattern') used.push(o.attributes.timeFieldName, ...Object.keys(JSON.parse(o.attributes.fieldAttrs)));
  }
  for (const f of used) assert.ok(!(f in twins), `${f} is used where its ECS twin ${twins[f]} belongs`);
  assert.ok(used.includes('user.name') && used.includes('@timestamp'));
});

test('saved searches: expected titles, index reference, mapped fields', () => {
  const searches = objects.filter((o) => o.type === 'search');
  const titles = searches.map((s) => s.attributes.title);
  for (const t of ['Contexts by user', 'Failed or forbidden contexts', 'Flagged contexts (security)', 'RBAC changes']) assert.ok(titles.includes(t), t);
  for (const s of searches) {
    const src = JSON.parse(s.attributes.kibanaSavedObjectMeta.searchSourceJSON);
    assert.ok(s.references.some((r: any) => r.name === src.indexRefName && r.type === 'index-pattern'), `${s.id} indexRefName resolves`);
    for (const c of s.attributes.columns) assert.ok(FIELDS.has(c) && FIELDS.get(c) !== 'disabled', `${s.id} column ${c} is mapped`);
    for (const [f] of s.attributes.sort) assert.ok(AGGREGATABLE(FIELDS.get(f)), `${s.id} sort ${f} is sortable`);
    for (const f of kqlFields(src.query.query)) assert.ok(FIELDS.has(f), `${s.id} query field ${f} is mapped`);
  }
});

test('lens visualizations: layers reference the data view, source fields aggregatable', () => {
  for (const l of objects.filter((o) => o.type === 'lens')) {
    const layers = l.attributes.state.datasourceStates.formBased.layers;
    for (const [layerId, layer] of Object.entries(layers) as [string, any][]) {
      assert.ok(l.references.some((r: any) => r.name === `indexpattern-datasource-layer-${layerId}` && r.type === 'index-pattern'), `${l.id} layer ${layerId} reference`);
      assert.deepEqual([...layer.columnOrder].sort(), Object.keys(layer.columns).sort(), `${l.id} columnOrder`);
      for (const col of Object.values(layer.columns) as any[]) {
        if (col.sourceField === '___records___') continue;
        assert.ok(AGGREGATABLE(FIELDS.get(col.sourceField)), `${l.id} ${col.sourceField} is aggregatable`);
      }
    }
    for (const f of kqlFields(l.attributes.state.query.query)) assert.ok(FIELDS.has(f), `${l.id} query field ${f}`);
  }
});

test('dashboard panels match its references', () => {
  const dash = objects.filter((o) => o.type === 'dashboard');
  assert.equal(dash.length, 1);
  const panels = JSON.parse(dash[0].attributes.panelsJSON);
  assert.ok(panels.length >= 5);
  const indices = new Set<string>();
  for (const p of panels) {
    assert.ok(!indices.has(p.panelIndex), 'panelIndex unique');
    indices.add(p.panelIndex);
    const ref = dash[0].references.find((r: any) => r.name === `${p.panelIndex}:${p.panelRefName}`);
    assert.ok(ref, `panel ${p.panelIndex} has reference ${p.panelIndex}:${p.panelRefName}`);
    assert.equal(ref.type, p.type);
    assert.equal(p.gridData.i, p.panelIndex);
    assert.ok(p.gridData.x + p.gridData.w <= 48, 'fits the 48-column grid');
  }
  const controls = Object.keys(JSON.parse(dash[0].attributes.controlGroupInput.panelsJSON)).length;
  assert.equal(dash[0].references.length, panels.length + controls);
});

test('dashboard controls: a cluster options list on mapped, aggregatable fields of the data view', () => {
  const dash = objects.find((o) => o.type === 'dashboard');
  const group = dash.attributes.controlGroupInput;
  assert.ok(group, 'the dashboard has a control group');
  const controls = Object.entries(JSON.parse(group.panelsJSON)) as [string, any][];
  const fields = controls.map(([, c]) => c.explicitInput.fieldName);
  assert.ok(fields.includes('cluster'), 'a cluster control');
  assert.equal(FIELDS.get('cluster'), 'keyword');
  for (const [id, c] of controls) {
    assert.equal(c.type, 'optionsListControl');
    assert.equal(c.explicitInput.id, id);
    assert.ok(AGGREGATABLE(FIELDS.get(c.explicitInput.fieldName)), `${id}: ${c.explicitInput.fieldName} is aggregatable`);
    const ref = dash.references.find((r: any) => r.name === `controlGroup_${id}:optionsListDataView`);
    assert.ok(ref && ref.type === 'index-pattern' && objects.some((o) => o.type === 'index-pattern' && o.id === ref.id), `${id}: its data view reference resolves`);
  }
  assert.deepEqual(controls.map(([, c]) => c.order).sort(), controls.map((_, i) => i));
});

test('the file is what generate.mjs produces', () => {
  const generated = execFileSync(process.execPath, [new URL('../plugin/kibana/generate.mjs', import.meta.url).pathname], { encoding: 'utf8' });
  assert.equal(NDJSON, generated, 'run: node plugin/kibana/generate.mjs > plugin/kibana/saved-objects.ndjson');
});

test('withIndexPrefix rewrites only the data view title', () => {
  const out = withIndexPrefix(NDJSON, 'prod');
  const dv = out.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((o) => o.type === 'index-pattern');
  assert.equal(dv.attributes.title, 'prod-contexts*');
  assert.equal(out.split('\n').filter((l, i) => l !== NDJSON.split('\n')[i]).length, 1);
});

// ---- the import command against a stand-in Kibana --------------------------------------------

interface Seen { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }

async function fakeKibana(reply: (seen: Seen) => { status: number; body: unknown }) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(s);
      const r = reply(s);
      res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Minimal multipart/form-data reader: the parts' headers and bodies. */
function parseMultipart(contentType: string, body: string): Array<{ headers: string; content: string }> {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  assert.ok(m, 'multipart boundary');
  const boundary = m[1] ?? m[2]!;
  const parts = body.split(`--${boundary}`).slice(1, -1);
  return parts.map((p) => {
    const [headers, ...rest] = p.replace(/^\r\n/, '').split('\r\n\r\n');
    return { headers: headers!, content: rest.join('\r\n\r\n').replace(/\r\n$/, '') };
  });
}

test('kibana import posts the NDJSON as multipart with kbn-xsrf to the space', async () => {
  const k = await fakeKibana((s) => {
    const ok = s.method === 'POST' && s.headers['kbn-xsrf'] !== undefined && String(s.headers['content-type']).startsWith('multipart/form-data');
    return ok ? { status: 200, body: { success: true, successCount: objects.length, errors: [] } } : { status: 400, body: { message: 'bad request' } };
  });
  try {
    const r = await importSavedObjects({ url: k.url, ndjson: NDJSON, space: 'ops', overwrite: true, auth: { apiKey: 'abc' } });
    assert.deepEqual(r, { success: true, successCount: objects.length, errors: [] });
    const s = k.seen[0]!;
    assert.equal(s.url, '/s/ops/api/saved_objects/_import?overwrite=true');
    assert.equal(s.headers.authorization, 'ApiKey abc');
    const parts = parseMultipart(String(s.headers['content-type']), s.body);
    assert.equal(parts.length, 1);
    assert.match(parts[0]!.headers, /name="file"; filename="[^"]+\.ndjson"/);
    assert.equal(parts[0]!.content, NDJSON);
  } finally { await k.close(); }
});

test('kibana import reports conflicts, auth failures and unreachable Kibana clearly', async () => {
  const k = await fakeKibana((s) => s.headers.authorization === 'Basic ' + Buffer.from('bob:pw').toString('base64')
    ? { status: 200, body: { success: false, successCount: 10, errors: [{ id: 'kontext-dashboard', type: 'dashboard', title: 'x', error: { type: 'conflict' } }] } }
    : { status: 401, body: { message: 'unauthorized' } });
  try {
    const r = await importSavedObjects({ url: k.url, ndjson: NDJSON, auth: { username: 'bob', password: 'pw' } });
    assert.equal(r.success, false);
    assert.equal(r.errors[0]!.error.type, 'conflict');
    assert.equal(k.seen[0]!.url, '/api/saved_objects/_import');
    await assert.rejects(importSavedObjects({ url: k.url, ndjson: NDJSON }), (e: Error) => e instanceof KibanaImportFailure && /refused the import \(401\)/.test(e.message));
  } finally { await k.close(); }
  await assert.rejects(importSavedObjects({ url: k.url, ndjson: NDJSON, timeoutMs: 2000 }), (e: Error) => e instanceof KibanaImportFailure && /cannot reach Kibana/.test(e.message));
  await assert.rejects(importSavedObjects({ url: 'http://127.0.0.1:1', ndjson: 'not json\n' }), /line 1 is not JSON/);
  await assert.rejects(importSavedObjects({ url: 'http://127.0.0.1:1', ndjson: NDJSON, space: 'Bad Space' }), /--space/);
});

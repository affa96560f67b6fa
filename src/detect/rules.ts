/**
 * Detection rules files (YAML): lists, macros and detections, Falco-style. Files load in order
 * (the shipped file first, then every `--rules` file); a later entry with the same name
 * replaces an earlier one, so a user file overrides shipped lists, macros and detections:
 *
 *   - list: allowed_k8s_users          # replace the list
 *     items: [alice, ci-bot]
 *   - list: allowed_namespaces         # or add to it
 *     append: true
 *     items: [shop]
 *   - macro: user_known_exec_pod_activities
 *     condition: user.username = oncall and objectRef.namespace = debug
 *   - detection: create-nodeport-service   # change a shipped detection: severity/enabled/desc/tags only
 *     severity: high
 *   - detection: my-rule                   # or add one
 *     severity: medium
 *     desc: …
 *     event: verb = delete and objectRef.resource = persistentvolumes
 *
 * A detection has exactly one of `event` (a condition over each audit event), `context` (a
 * condition over the context document: forbidden, trigger.user, namespaces, detections, …) or
 * `correlation` (one of the stateful detections of correlate.ts, optionally narrowed by an
 * `event` condition its matching event must also meet). Every condition is compiled after all
 * files are read, so overrides apply wherever a list or macro is used. Any problem — YAML
 * syntax, an unknown key, an unknown macro or field, a bad severity — is a RulesError naming the
 * file and line.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode, type Pair } from 'yaml';
import { ConditionError, needsRoots, parseCondition, type Node, type Scope } from './condition.ts';
import { CORRELATIONS, type CorrelationName } from './correlate.ts';

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];
/** Higher is more severe. */
export const severityRank = (s: Severity): number => SEVERITIES.length - SEVERITIES.indexOf(s);

/** Top-level fields of an audit event (audit.k8s.io/v1 Event) a condition may start with. */
export const EVENT_FIELDS: ReadonlySet<string> = new Set([
  'kind', 'apiVersion', 'level', 'auditID', 'stage', 'requestURI', 'verb', 'user', 'impersonatedUser', 'sourceIPs',
  'userAgent', 'objectRef', 'responseStatus', 'requestObject', 'responseObject', 'requestReceivedTimestamp',
  'stageTimestamp', 'annotations',
]);
/** Known keys below the closed parts of an audit event (bodies and annotations are open). */
export const EVENT_SUBFIELDS: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ['objectRef', new Set(['resource', 'namespace', 'name', 'uid', 'apiGroup', 'apiVersion', 'resourceVersion', 'subresource'])],
  ['user', new Set(['username', 'uid', 'groups', 'extra'])],
  ['impersonatedUser', new Set(['username', 'uid', 'groups', 'extra'])],
  ['responseStatus', new Set(['metadata', 'status', 'message', 'reason', 'code', 'details'])],
]);
/** Fields that only Request / RequestResponse audit levels carry. */
export const BODY_FIELDS: ReadonlySet<string> = new Set(['requestObject', 'responseObject']);
/** Fields of the context view a context condition may start with (see engine.ts contextView). */
export const CONTEXT_FIELDS: ReadonlySet<string> = new Set([
  'id', 'label', 'action', 'state', 'trigger', 'start', 'end', 'durationMs', 'eventCount', 'users', 'namespaces', 'resources',
  'names', 'verbs', 'outcome', 'failures', 'forbidden', 'flags', 'confidence', 'detections', 'severities',
]);
export const CONTEXT_SUBFIELDS: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ['trigger', new Set(['auditID', 'user', 'groups', 'userAgent', 'client', 'sourceIPs', 'verb', 'apiGroup', 'resource', 'subresource', 'namespace', 'name', 'code', 'impersonatedUser'])],
]);

export class RulesError extends Error {
  constructor(readonly file: string, readonly line: number, readonly reason: string) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'RulesError';
  }
}

export interface Detection {
  name: string;
  desc: string;
  severity: Severity;
  tags: string[];
  enabled: boolean;
  /** the Falco k8saudit rule this one ports, if any */
  falco?: string;
  kind: 'event' | 'context' | 'correlation';
  /** compiled `event` condition (event detections; optional filter of correlations) */
  event?: Node;
  /** compiled `context` condition */
  context?: Node;
  correlation?: CorrelationName;
  /** true when the detection cannot fire on Metadata-level events (its condition needs bodies) */
  needsBodies: boolean;
  file: string;
  line: number;
}

export interface RuleSet {
  detections: Detection[];
  lists: ReadonlyMap<string, readonly string[]>;
  files: string[];
}

export interface RulesSource { file: string; text: string }

interface Located { file: string; line: number }
interface RawList extends Located { items: Array<{ v: string; line: number }> }
interface RawCond extends Located { text: string }
interface RawDetection extends Located {
  name: string;
  fields: Map<string, { value: unknown; line: number }>;
}

const LIST_KEYS = new Set(['list', 'items', 'append']);
const MACRO_KEYS = new Set(['macro', 'condition']);
const DETECTION_KEYS = new Set(['detection', 'desc', 'severity', 'tags', 'enabled', 'falco', 'event', 'context', 'correlation']);
/** What an override of an existing detection may change without restating its condition. */
const OVERRIDE_KEYS = new Set(['desc', 'severity', 'tags', 'enabled']);
const NAME = /^[A-Za-z0-9_.:-]+$/;

/** Reads rules sources (shipped first) into a RuleSet; throws RulesError. */
export function compileRules(sources: RulesSource[]): RuleSet {
  const lists = new Map<string, RawList>();
  const macros = new Map<string, RawCond>();
  const detections = new Map<string, RawDetection>();

  for (const src of sources) {
    const lc = new LineCounter();
    const doc = parseDocument(src.text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
    const lineOf = (n: YamlNode | Pair | null | undefined): number => {
      const r = (n as YamlNode | undefined)?.range ?? ((n as Pair | undefined)?.key as YamlNode | undefined)?.range;
      return r ? lc.linePos(r[0]).line : 1;
    };
    if (doc.errors.length) {
      const e = doc.errors[0]!;
      throw new RulesError(src.file, lc.linePos(e.pos[0]).line, `YAML: ${e.message.split('\n')[0]}`);
    }
    const root = doc.contents;
    if (root === null || root === undefined) continue; // empty file
    if (!isSeq(root)) throw new RulesError(src.file, lineOf(root), 'a rules file is a YAML list of `- list:`, `- macro:` and `- detection:` entries');
    for (const item of root.items) {
      const line = lineOf(item as YamlNode);
      const fail = (reason: string, at = line): never => { throw new RulesError(src.file, at, reason); };
      if (!isMap(item)) return fail('each entry is a mapping with one of `list`, `macro` or `detection`');
      const fields = new Map<string, { value: unknown; line: number; node: unknown }>();
      for (const pair of item.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : fail('keys are plain words', lineOf(pair as Pair));
        fields.set(key, { value: (pair.value as YamlNode | null)?.toJSON?.() ?? (isScalar(pair.value) ? pair.value.value : pair.value), line: pair.value ? lineOf(pair.value as YamlNode) : lineOf(pair as Pair), node: pair.value });
      }
      const kinds = ['list', 'macro', 'detection'].filter((k) => fields.has(k));
      if (kinds.length !== 1) fail(kinds.length ? `an entry is one of list, macro or detection, not ${kinds.join(' and ')}` : 'entry without `list`, `macro` or `detection`');
      const kind = kinds[0]!;
      const allowed = kind === 'list' ? LIST_KEYS : kind === 'macro' ? MACRO_KEYS : DETECTION_KEYS;
      for (const [k, f] of fields) if (!allowed.has(k)) fail(`${kind}: unknown key '${k}' (allowed: ${[...allowed].join(', ')})`, f.line);
      const name = fields.get(kind)!.value;
      if (typeof name !== 'string' || !NAME.test(name)) fail(`${kind} name must be a word of letters, digits, '_', '-', '.', ':' (got ${JSON.stringify(name)})`);
      const n = name as string;

      if (kind === 'list') {
        const itemsField = fields.get('items');
        if (!itemsField) fail(`list '${n}': needs items`);
        const node = itemsField!.node;
        if (!isSeq(node)) fail(`list '${n}': items is a YAML list`, itemsField!.line);
        const items: RawList['items'] = [];
        for (const it of (node as { items: unknown[] }).items) {
          if (!isScalar(it) || it.value === null || typeof it.value === 'object') fail(`list '${n}': items are plain values`, lineOf(it as YamlNode));
          items.push({ v: String((it as { value: unknown }).value), line: lineOf(it as YamlNode) });
        }
        const append = fields.get('append')?.value;
        if (append !== undefined && typeof append !== 'boolean') fail(`list '${n}': append is true or false`, fields.get('append')!.line);
        const prev = lists.get(n);
        if (append && !prev) fail(`list '${n}': append to a list that is not defined earlier`);
        lists.set(n, { file: src.file, line, items: append && prev ? [...prev.items, ...items] : items });
      } else if (kind === 'macro') {
        const cond = fields.get('condition');
        if (!cond || typeof cond.value !== 'string' || !cond.value.trim()) fail(`macro '${n}': needs a condition (text)`);
        macros.set(n, { file: src.file, line: cond!.line, text: cond!.value as string });
      } else {
        const prev = detections.get(n);
        const own = [...fields.keys()].filter((k) => k !== 'detection');
        const isOverride = prev && own.every((k) => OVERRIDE_KEYS.has(k));
        const merged = new Map(isOverride ? prev.fields : []);
        for (const [k, f] of fields) if (k !== 'detection') merged.set(k, { value: f.value, line: f.line });
        detections.set(n, { file: src.file, line, name: n, fields: merged });
      }
    }
  }

  // ---- compile: lists, macros (lazily, with cycle detection), detections
  const listValues = new Map<string, string[]>();
  const resolving = new Set<string>();
  const listOf = (name: string): string[] | undefined => {
    const raw = lists.get(name);
    if (!raw) return undefined;
    const done = listValues.get(name);
    if (done) return done;
    if (resolving.has(`list:${name}`)) throw new RulesError(raw.file, raw.line, `list '${name}' includes itself`);
    resolving.add(`list:${name}`);
    // like Falco, an item naming another list includes that list
    const out: string[] = [];
    for (const it of raw.items) { const sub = it.v !== name ? listOf(it.v) : undefined; if (sub) out.push(...sub); else out.push(it.v); }
    resolving.delete(`list:${name}`);
    listValues.set(name, out);
    return out;
  };
  const macroNodes = new Map<string, Node>();
  const compile = (text: string, at: Located, what: string, roots: ReadonlySet<string>): Node => {
    const scope: Scope = { macro: macroOf, list: listOf, roots, children: roots === CONTEXT_FIELDS ? CONTEXT_SUBFIELDS : EVENT_SUBFIELDS };
    try {
      return parseCondition(text, scope);
    } catch (e) {
      if (e instanceof RulesError) throw e;
      if (!(e instanceof ConditionError)) throw e;
      const near = text.slice(e.pos, e.pos + 30).replace(/\s+/g, ' ').trim();
      throw new RulesError(at.file, at.line, `${what}: ${e.message}${near ? ` (at '${near}')` : ' (at the end)'}`);
    }
  };
  function macroOf(name: string): Node | undefined {
    const raw = macros.get(name);
    if (!raw) return undefined;
    const done = macroNodes.get(name);
    if (done) return done;
    if (resolving.has(`macro:${name}`)) throw new RulesError(raw.file, raw.line, `macro '${name}' uses itself`);
    resolving.add(`macro:${name}`);
    const node = compile(raw.text, raw, `macro '${name}'`, EVENT_FIELDS);
    resolving.delete(`macro:${name}`);
    macroNodes.set(name, node);
    return node;
  }
  for (const name of lists.keys()) listOf(name);

  const out: Detection[] = [];
  for (const d of detections.values()) {
    const f = (k: string) => d.fields.get(k);
    const fail = (reason: string, at = d.line): never => { throw new RulesError(d.file, at, `detection '${d.name}': ${reason}`); };
    const sev = f('severity');
    if (!sev) fail(`needs a severity (${SEVERITIES.join(', ')})`);
    if (!SEVERITIES.includes(sev!.value as Severity)) fail(`severity must be one of ${SEVERITIES.join(', ')} (got ${JSON.stringify(sev!.value)})`, sev!.line);
    const desc = f('desc')?.value ?? '';
    if (typeof desc !== 'string') fail('desc is text', f('desc')!.line);
    const tags = f('tags')?.value ?? [];
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) fail('tags is a list of words', f('tags')!.line);
    const enabled = f('enabled')?.value ?? true;
    if (typeof enabled !== 'boolean') fail('enabled is true or false', f('enabled')!.line);
    const falco = f('falco')?.value;
    if (falco !== undefined && typeof falco !== 'string') fail('falco is the name of a Falco rule', f('falco')!.line);
    const ev = f('event'); const cx = f('context'); const co = f('correlation');
    if ((cx ? 1 : 0) + (co ? 1 : 0) + (ev && !co ? 1 : 0) !== 1) fail('needs exactly one of `event`, `context` or `correlation` (a correlation may add an `event` filter)');
    for (const [k, v] of [['event', ev], ['context', cx], ['correlation', co]] as const) {
      if (v && (typeof v.value !== 'string' || !v.value.trim())) fail(`${k} is text`, v.line);
    }
    if (co && !Object.hasOwn(CORRELATIONS, co.value as string)) fail(`unknown correlation '${String(co.value)}' (known: ${Object.keys(CORRELATIONS).join(', ')})`, co.line);
    const det: Detection = {
      name: d.name, desc: desc as string, severity: sev!.value as Severity, tags: tags as string[], enabled: enabled as boolean,
      kind: co ? 'correlation' : cx ? 'context' : 'event', needsBodies: false, file: d.file, line: d.line,
    };
    if (falco) det.falco = falco as string;
    if (ev) det.event = compile(ev.value as string, { file: d.file, line: ev.line }, `detection '${d.name}': event`, EVENT_FIELDS);
    if (cx) det.context = compile(cx.value as string, { file: d.file, line: cx.line }, `detection '${d.name}': context`, CONTEXT_FIELDS);
    if (co) det.correlation = co.value as CorrelationName;
    det.needsBodies = (det.event ? needsRoots(det.event, BODY_FIELDS) : false) || (co ? CORRELATIONS[det.correlation!].needsBodies : false);
    out.push(det);
  }
  return { detections: out, lists: listValues, files: sources.map((s) => s.file) };
}

/** Reads rules files from disk (in order) and compiles them. */
export function loadRulesFiles(files: string[]): RuleSet {
  const sources: RulesSource[] = files.map((file) => {
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch (e) { throw new RulesError(file, 0, `cannot read rules file: ${(e as Error).message}`); }
    return { file, text };
  });
  return compileRules(sources);
}

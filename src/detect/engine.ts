/**
 * The detection engine. Two entry points:
 *
 *  - `observe(events)`: every event, in event-time order, with its bodies (the pipeline calls
 *    it right before the clusterer). Event detections and correlations are evaluated once per
 *    event; the names matched are kept on the event itself (a symbol-keyed property, which
 *    survives the clusterer's body stripping and never reaches JSON or Elasticsearch).
 *  - `detect(events, doc)`: the detections of one context, from its members' matches plus the
 *    context detections evaluated on the summary. summarize() calls it every time a context is
 *    written. Events nobody observed (tests, tools summarising ground truth) are observed here.
 */
import type { AuditEvent } from '../types/audit.ts';
import type { ContextDetection, ContextDoc } from '../types/context.ts';
import { evaluate, partial, type Node } from './condition.ts';
import { CORRELATIONS, CORRELATION_PARAMS, CorrelationState, type Correlation, type CorrelationParams, type CorrelationSnapshot } from './correlate.ts';
import { decodeState, encodeState } from '../util/snapshot.ts';
import { severityRank, type Detection, type RuleSet, type Severity } from './rules.ts';

const NONE: readonly string[] = Object.freeze([]);

/** member auditIDs kept per detection of a context (the count of matches is not bounded) */
export const MAX_AUDIT_IDS = 100;

/** `cluster`: the Kubernetes cluster it came from (correlations remember per cluster) */
export interface TimedEvent { audit: AuditEvent; time: number; cluster?: string }

/** What summarize() needs. */
export interface Detector {
  detect(events: readonly TimedEvent[], doc: Omit<ContextDoc, 'detections'>): ContextDetection[];
}

const SHAPE_KEYS = new Set(['resource', 'subresource', 'apiGroup']);

type Marked = AuditEvent & Record<symbol, readonly string[] | undefined>;

export class DetectionEngine implements Detector {
  readonly rules: RuleSet;
  /** the correlations' memory of events without a cluster */
  readonly state: CorrelationState;
  /**
   * each cluster's correlation memory: a user, namespace, pod or role of one cluster says
   * nothing about the same name in another (a binding in one cluster grants nothing in the next)
   */
  private readonly states = new Map<string, CorrelationState>();
  private readonly params: CorrelationParams;
  private readonly eventRules: Detection[];
  private readonly correlationRules: Detection[];
  private readonly contextRules: Detection[];
  private readonly byName = new Map<string, Detection>();
  private readonly byShape = new Map<string, Detection[]>();
  private readonly flaggedNames: Set<string>;
  /** where this engine keeps an event's matches (one symbol per engine: engines never see each other's) */
  private readonly mark = Symbol('kontext.detections');
  private readonly correlationsUsed: Array<(typeof CORRELATIONS)[keyof typeof CORRELATIONS]>;

  constructor(rules: RuleSet, opts: { params?: CorrelationParams; stateful?: boolean } = {}) {
    this.rules = rules;
    const params = opts.params ?? CORRELATION_PARAMS;
    this.params = params;
    this.state = new CorrelationState(params, rules.lists);
    const enabled = rules.detections.filter((d) => d.enabled);
    for (const d of enabled) this.byName.set(d.name, d);
    this.eventRules = enabled.filter((d) => d.kind === 'event');
    this.correlationRules = opts.stateful === false ? [] : enabled.filter((d) => d.kind === 'correlation');
    this.contextRules = enabled.filter((d) => d.kind === 'context');
    this.correlationsUsed = [...new Set(this.correlationRules.map((d) => d.correlation!))].map((n) => CORRELATIONS[n]);
    const min = severityRank(params.coverTracks.minSeverity);
    const ignore = new Set<string>(params.coverTracks.ignore);
    this.flaggedNames = new Set(enabled.filter((d) => severityRank(d.severity) >= min && !ignore.has(d.name) && !d.tags.includes('activity')).map((d) => d.name));
  }

  /** The correlation memory of a cluster (undefined: events without one). */
  stateOf(cluster: string | undefined): CorrelationState {
    if (cluster === undefined) return this.state;
    let st = this.states.get(cluster);
    if (!st) { st = new CorrelationState(this.params, this.rules.lists); this.states.set(cluster, st); }
    return st;
  }

  /** A detector for one cluster's contexts (its clusterer's summaries): correlations read that cluster's memory. */
  forCluster(cluster: string): Detector {
    return { detect: (events, doc) => this.detect(events, doc, cluster) };
  }

  /** The correlations' memory for the restart checkpoint (see store/checkpoint.ts): every cluster's. */
  snapshot(): string {
    if (!this.states.size) return encodeState(this.state.snapshotState());
    const clusters: Record<string, CorrelationSnapshot> = {};
    for (const [c, st] of this.states) clusters[c] = st.snapshotState();
    return encodeState({ ...this.state.snapshotState(), clusters });
  }

  /** Takes back a `snapshot()` before the first event; false when it is unreadable or of another version. */
  restore(text: string, hints: { covered?: (auditID: string, time: number) => boolean } = {}): boolean {
    let ok = false;
    try {
      const s = decodeState<CorrelationSnapshot & { clusters?: Record<string, CorrelationSnapshot> }>(text);
      ok = this.state.restoreState(s);
      if (ok && s.clusters) for (const [c, part] of Object.entries(s.clusters)) ok = this.stateOf(c).restoreState(part) && ok;
    } catch { ok = false; }
    if (ok) this.covered = hints.covered;
    return ok;
  }

  /** events the restored memory already took in (re-sent after a restart, or members of restored contexts): matched, not counted again */
  private covered: ((auditID: string, time: number) => boolean) | undefined;

  /** Enabled detections that cannot fire on Metadata-level events. */
  get needBodies(): string[] { return [...this.byName.values()].filter((d) => d.needsBodies).map((d) => d.name); }

  /** Evaluates event detections and correlations for events in event-time order (idempotent per event). */
  observe(events: readonly TimedEvent[]): void {
    for (const e of events) this.observeOne(e);
  }

  /**
   * The event detections that can match events of this verb, resource and subresource: a
   * condition that is false whatever the other fields are is skipped (three-valued evaluation,
   * cached per shape; a handful of shapes cover most traffic).
   */
  private rulesFor(a: AuditEvent): Detection[] {
    const r = a.objectRef;
    const key = `${a.verb}|${r?.resource ?? ''}|${r?.subresource ?? ''}|${r?.apiGroup ?? ''}`;
    let rules = this.byShape.get(key);
    if (!rules) {
      const shape = { verb: a.verb, objectRef: r ? { resource: r.resource, subresource: r.subresource, apiGroup: r.apiGroup } : undefined };
      const decided = (n: Node) => partial(n, (t) => {
        const f = t.operand.path[1];
        const known = t.operand.root === 'verb' || (t.operand.root === 'objectRef' && f && 'key' in f && SHAPE_KEYS.has(f.key));
        return known && !t.operand.fn ? evaluate(t, shape) : undefined;
      });
      rules = this.eventRules.filter((d) => decided(d.event!) !== false);
      if (this.byShape.size > 10_000) this.byShape.clear();
      this.byShape.set(key, rules);
    }
    return rules;
  }

  /** The event and correlation detections an event matched (observing it first if needed). */
  eventMatches(e: TimedEvent): readonly string[] { return this.observeOne(e); }

  private observeOne(e: TimedEvent): readonly string[] {
    const a = e.audit as Marked;
    const done = a[this.mark];
    if (done) return done;
    let matched: string[] | undefined;
    for (const d of this.rulesFor(a)) if (evaluate(d.event!, a)) (matched ??= []).push(d.name);
    if (this.correlationRules.length) {
      const st = this.stateOf(e.cluster);
      const obs = { audit: a, time: e.time, matched: matched ?? [], flagged: false };
      for (const d of this.correlationRules) {
        if (CORRELATIONS[d.correlation!].check(obs, st) && (!d.event || evaluate(d.event, a))) (matched ??= obs.matched).push(d.name);
      }
      if (matched && matched !== obs.matched) obs.matched = matched;
      obs.flagged = obs.matched.some((n) => this.flaggedNames.has(n));
      if (!this.covered?.(a.auditID, e.time)) for (const c of this.correlationsUsed) c.update(obs, st);
    }
    const out = matched && matched.length ? Object.freeze(matched) : NONE;
    // enumerable, so object spread (the clusterer's body stripping) keeps it; JSON ignores symbols
    a[this.mark] = out;
    return out;
  }

  detect(events: readonly TimedEvent[], doc: Omit<ContextDoc, 'detections'>, cluster: string | undefined = doc.cluster): ContextDetection[] {
    const st = this.stateOf(cluster);
    const ids = new Map<string, string[]>();
    const unobserved = events.filter((e) => !(e.audit as Marked)[this.mark]).sort((x, y) => x.time - y.time);
    this.observe(cluster === undefined ? unobserved : unobserved.map((e) => (e.cluster ? e : { ...e, cluster })));
    for (const e of events) {
      for (const name of (e.audit as Marked)[this.mark] ?? NONE) {
        const c = this.byName.get(name)?.correlation;
        if (c && (CORRELATIONS[c] as Correlation).withdraw?.(e, st)) continue;
        let list = ids.get(name);
        if (!list) { list = []; ids.set(name, list); }
        if (list.length < MAX_AUDIT_IDS) list.push(e.audit.auditID);
      }
    }
    if (this.contextRules.length) {
      const view = contextView(doc, [...ids.keys()].map((n) => ({ name: n, severity: this.byName.get(n)?.severity ?? 'info' })));
      for (const d of this.contextRules) if (evaluate(d.context!, view)) ids.set(d.name, [doc.trigger.auditID]);
    }
    const out: ContextDetection[] = [];
    for (const [name, auditIDs] of ids) {
      const d = this.byName.get(name);
      if (d) out.push({ name, severity: d.severity, auditIDs });
    }
    return out.sort((x, y) => severityRank(y.severity) - severityRank(x.severity) || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  }
}

/** What a `context:` condition sees: the context document plus the detections of its members. */
export function contextView(doc: Omit<ContextDoc, 'detections'>, matched: Array<{ name: string; severity: Severity }>): Record<string, unknown> {
  const { members: _m, counts: _c, ...rest } = doc;
  return { ...rest, durationMs: doc.end - doc.start, detections: matched.map((m) => m.name), severities: [...new Set(matched.map((m) => m.severity))] };
}

/** Highest severity among detections, if any. */
export function maxSeverity(ds: readonly ContextDetection[]): Severity | undefined {
  let best: Severity | undefined;
  for (const d of ds) if (!best || severityRank(d.severity) > severityRank(best)) best = d.severity;
  return best;
}

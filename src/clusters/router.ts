/**
 * Routing by cluster: one labeler and one clusterer per Kubernetes cluster behind a single
 * stage each, so the pipeline keeps its one contract (src/types/stage.ts) while no state is
 * shared between clusters — the labeler's tracer memory (names, uids, a namespace's latest
 * person action), the clusterer's link-key indexes, helm/apply sessions and background
 * aggregates are per cluster, because the same namespace, object name or even auditID in two
 * clusters says nothing about each other. The wrappers route each event by `KEvent.cluster`
 * (set by normalize) to its cluster's instance, created on its first event, and scope what
 * comes out: context ids become `<cluster>/<id>` and every document carries `cluster`.
 *
 * Inner instances never see the cluster (they stay unchanged); the wrappers put it back on
 * what they return. Event-time order is kept within each cluster, which is all the labeler
 * and the clusterer depend on; across clusters the output of one push is grouped by cluster.
 */
import type { KEvent, LabeledEvent } from '../types/pipeline.ts';
import type { ContextDoc } from '../types/context.ts';
import type { ContextWrite } from '../cluster/types.ts';
import type { Clusterer, RestoredContext } from '../cluster/clusterer.ts';
import type { ClusterSnapshot } from '../cluster/snapshot.ts';
import type { Labeler } from '../label/index.ts';
import type { RestoreHints } from '../label/stage.ts';
import { DEFAULT_CLUSTER, scopedId, splitScopedId } from './names.ts';

/** Events grouped by cluster, each group in input order. */
function byCluster<E extends { cluster?: string }>(events: E[], fallback: string): Map<string, E[]> {
  const out = new Map<string, E[]>();
  for (const e of events) {
    const c = e.cluster ?? fallback;
    let list = out.get(c);
    if (!list) { list = []; out.set(c, list); }
    list.push(e);
  }
  return out;
}

/** Snapshot text of a routed labeler: each cluster's labeler snapshot by cluster name. */
interface RoutedSnapshot { clusters: Record<string, string> }

/**
 * A labeler per cluster behind one Labeler. `snapshot()` holds every cluster's snapshot;
 * `restore()` takes one back, and takes a snapshot of a single labeler (stored before
 * clusters) as the default cluster's.
 */
export class ClusterLabelers implements Labeler {
  private readonly inner = new Map<string, Labeler>();
  /** snapshots taken back for clusters whose labeler does not exist yet */
  private readonly resumed = new Map<string, { text: string; hints: RestoreHints }>();
  readonly mode: 'model' | 'rules-only';
  readonly backend?: string;

  constructor(private readonly make: () => Labeler, private readonly defaultCluster = DEFAULT_CLUSTER) {
    const first = this.of(defaultCluster);
    this.mode = first.mode;
    this.backend = first.backend;
  }

  /** the clusters seen so far (the default one always) */
  get clusters(): string[] { return [...this.inner.keys()]; }

  /** the labeler of a cluster, made on first use (with its taken-back snapshot, if any) */
  of(cluster: string): Labeler {
    let l = this.inner.get(cluster);
    if (!l) {
      l = this.make();
      const r = this.resumed.get(cluster);
      if (r) { this.resumed.delete(cluster); l.restore(r.text, r.hints); }
      this.inner.set(cluster, l);
    }
    return l;
  }

  get pending(): number {
    let n = 0;
    for (const l of this.inner.values()) n += l.pending;
    return n;
  }

  async push(events: KEvent[]): Promise<LabeledEvent[]> {
    const out: LabeledEvent[] = [];
    for (const [cluster, list] of byCluster(events, this.defaultCluster)) {
      for (const e of await this.of(cluster).push(list)) { e.cluster = cluster; out.push(e); }
    }
    return out;
  }

  async flush(): Promise<LabeledEvent[]> {
    const out: LabeledEvent[] = [];
    for (const [cluster, l] of this.inner) {
      if (!l.pending) continue;
      for (const e of await l.flush()) { e.cluster = cluster; out.push(e); }
    }
    return out;
  }

  async advance(time: number): Promise<LabeledEvent[]> {
    const out: LabeledEvent[] = [];
    for (const [cluster, l] of this.inner) {
      if (!l.pending || !l.advance) continue;
      for (const e of await l.advance(time)) { e.cluster = cluster; out.push(e); }
    }
    return out;
  }

  snapshot(): string {
    const clusters: Record<string, string> = {};
    for (const [cluster, l] of this.inner) clusters[cluster] = l.snapshot();
    for (const [cluster, r] of this.resumed) clusters[cluster] ??= r.text;
    return JSON.stringify({ clusters } satisfies RoutedSnapshot);
  }

  /**
   * Takes back a `snapshot()`. A cluster's `covered` hint is asked with `<cluster>/<auditID>`.
   * Returns whether every cluster's part was taken back.
   */
  restore(text: string, hints: RestoreHints = {}): boolean {
    let parts: Record<string, string> | undefined;
    try {
      const s = JSON.parse(text) as Partial<RoutedSnapshot>;
      if (s && typeof s === 'object' && s.clusters && typeof s.clusters === 'object') parts = s.clusters as Record<string, string>;
    } catch { /* a single labeler's snapshot (not JSON of this shape) */ }
    if (!parts) parts = { [this.defaultCluster]: text };
    let ok = true;
    for (const [cluster, part] of Object.entries(parts)) {
      if (typeof part !== 'string') { ok = false; continue; }
      const covered = hints.covered;
      const h: RestoreHints = covered ? { covered: (id, t) => covered(scopedId(cluster, id), t) } : {};
      const l = this.inner.get(cluster);
      if (l) ok = l.restore(part, h) && ok;
      else this.resumed.set(cluster, { text: part, hints: h });
    }
    return ok;
  }
}

/** A clusterer per cluster behind one Clusterer; what it writes is scoped to its cluster. */
export class ClusterClusterers implements Clusterer {
  private readonly inner = new Map<string, Clusterer>();

  constructor(private readonly make: (cluster: string) => Clusterer, private readonly defaultCluster = DEFAULT_CLUSTER) {}

  get clusters(): string[] { return [...this.inner.keys()]; }

  of(cluster: string): Clusterer {
    let c = this.inner.get(cluster);
    if (!c) { c = this.make(cluster); this.inner.set(cluster, c); }
    return c;
  }

  push(events: LabeledEvent[]): void {
    for (const [cluster, list] of byCluster(events, this.defaultCluster)) this.of(cluster).push(list);
  }

  collect(watermark?: number, force?: boolean): ContextWrite[] {
    const out: ContextWrite[] = [];
    for (const [cluster, c] of this.inner) for (const w of c.collect(watermark, force)) out.push(scopeWrite(cluster, w));
    return out;
  }

  /**
   * Each cluster's session memory (cluster/snapshot.ts), under `clusters`: one checkpoint part
   * for all the clusters this replica owns.
   */
  snapshot(): ClusterSnapshot {
    const clusters: Record<string, ClusterSnapshot> = {};
    let w = -Infinity;
    for (const [name, c] of this.inner) {
      const s = c.snapshot();
      clusters[name] = s;
      if (s.watermark !== null && s.watermark > w) w = s.watermark;
    }
    return { v: 1, watermark: Number.isFinite(w) ? w : null, tables: { clusters } };
  }

  /**
   * Stored contexts back into their cluster's clusterer (ids unscoped again inside it), each
   * with its own part of `state` (a snapshot() of this router; a snapshot of a single clusterer,
   * from before clusters, is the default cluster's). True when every part was taken back.
   */
  restore(contexts: RestoredContext[], watermark?: number, state?: unknown): boolean {
    const groups = new Map<string, RestoredContext[]>();
    for (const r of contexts) {
      const { cluster, id } = splitScopedId(r.id, this.defaultCluster);
      let list = groups.get(cluster);
      if (!list) { list = []; groups.set(cluster, list); }
      list.push({ ...r, id });
    }
    const parts = new Map<string, unknown>();
    const tables = state && typeof state === 'object' ? (state as Partial<ClusterSnapshot>).tables : undefined;
    const byCluster = tables && typeof tables === 'object' ? (tables as { clusters?: unknown }).clusters : undefined;
    if (byCluster && typeof byCluster === 'object') {
      for (const [name, part] of Object.entries(byCluster as Record<string, unknown>)) parts.set(name, part);
    } else if (state !== undefined) {
      parts.set(this.defaultCluster, state);
    }
    let all = state !== undefined;
    for (const name of new Set([...groups.keys(), ...parts.keys()])) {
      const ok = this.of(name).restore(groups.get(name) ?? [], watermark, parts.get(name));
      if (parts.has(name) && !ok) all = false;
    }
    return all;
  }

  get watermark(): number {
    let w = -Infinity;
    for (const c of this.inner.values()) if (c.watermark > w) w = c.watermark;
    return w;
  }
  get openContexts(): number { return this.sum((c) => c.openContexts); }
  get retainedContexts(): number { return this.sum((c) => c.retainedContexts); }
  get pending(): number { return this.sum((c) => c.pending); }
  get memoryEvents(): number { return this.sum((c) => c.memoryEvents); }

  private sum(f: (c: Clusterer) => number): number {
    let n = 0;
    for (const c of this.inner.values()) n += f(c);
    return n;
  }
}

/** A context document of `cluster`: its id scoped, `cluster` set (right after the id). */
export function scopeDoc(cluster: string, doc: ContextDoc): ContextDoc {
  const { id, cluster: _c, ...rest } = doc;
  return { id: scopedId(cluster, id), cluster, ...rest };
}

function scopeWrite(cluster: string, w: ContextWrite): ContextWrite {
  const doc = scopeDoc(cluster, w.doc);
  const out: ContextWrite = { ...w, doc };
  if (w.raw) out.raw = w.raw.map((r) => ({ ...r, contextId: doc.id }));
  return out;
}

/**
 * The clusterer's memory across restarts. The contexts themselves come back from the store
 * (restore.ts); what they do not carry — helm release sessions, applies in progress, each
 * person's latest reads, the latest person action per namespace, open background windows,
 * pods waiting for their kubelet, what each context knows beyond its members — lives in
 * *session tables*, and every table serialises itself: `snapshot(refs)` returns plain values
 * (a context is written as its id), `restore(state, refs)` takes them back after the stored
 * contexts are in memory (an id no context answers to is dropped with its entry).
 *
 * Adding state to the clusterer: keep it in a `SessionMap` (a `Map` that serialises itself,
 * with the codec of its values) or another `SessionTable`, and list it in the clusterer's
 * `tables`; nothing else changes. A table missing from a stored snapshot (one taken by an older
 * kontext) restores empty, and a table the running kontext no longer has is ignored, so adding
 * or removing a table needs no version bump; changing the shape of an existing table's entries
 * does (`CLUSTER_SNAPSHOT_VERSION`: a snapshot of another version is not taken back at all).
 *
 * Bounded: a `SessionMap` keeps at most `cap` entries (the newest), and only entries whose
 * contexts are still in memory (open or retained, themselves capped by `maxOpen` and
 * `maxRetained`) are written.
 */

/** How tables refer to contexts: by id, for contexts still in memory only. */
export interface CtxRefs<C> {
  /** the id to write for `c`, or undefined when it is no longer in memory (the entry is dropped) */
  id(c: C): string | undefined;
  /** the context in memory under `id` after a restore, if any */
  ctx(id: string): C | undefined;
}

export interface SessionTable<C> {
  /** key in the snapshot; unique among the clusterer's tables */
  readonly name: string;
  /** plain values (JSON-able, shared objects allowed: the checkpoint keeps them shared) */
  snapshot(refs: CtxRefs<C>): unknown;
  /** takes back what `snapshot` wrote (anything else, e.g. undefined, leaves the table empty) */
  restore(state: unknown, refs: CtxRefs<C>): void;
}

export interface EntryCodec<V, C> {
  /** undefined: the entry is not written (its context is gone) */
  enc(v: V, refs: CtxRefs<C>): unknown;
  /** undefined: the entry is not taken back */
  dec(s: unknown, refs: CtxRefs<C>): V | undefined;
}

/** A Map of session entries, in insertion (recency) order, that serialises itself. */
export class SessionMap<V, C> extends Map<string, V> implements SessionTable<C> {
  constructor(readonly name: string, private readonly codec: EntryCodec<V, C>, private readonly cap = 10_000) { super(); }

  snapshot(refs: CtxRefs<C>): Array<[string, unknown]> {
    const out: Array<[string, unknown]> = [];
    for (const [k, v] of this) {
      const s = this.codec.enc(v, refs);
      if (s !== undefined) out.push([k, s]);
    }
    return out.slice(-this.cap);
  }

  restore(state: unknown, refs: CtxRefs<C>): void {
    this.clear();
    if (!Array.isArray(state)) return;
    for (const e of state.slice(-this.cap)) {
      if (!Array.isArray(e) || typeof e[0] !== 'string') continue;
      const v = this.codec.dec(e[1], refs);
      if (v !== undefined) this.set(e[0], v);
    }
  }
}

/** Values that are a context. */
export function ctxCodec<C>(): EntryCodec<C, C> {
  return {
    enc: (c, refs) => refs.id(c),
    dec: (s, refs) => (typeof s === 'string' ? refs.ctx(s) : undefined),
  };
}

/** Values `{ c: context, ...plain fields }`. */
export function withCtxCodec<V extends { c: C }, C>(): EntryCodec<V, C> {
  return {
    enc: (v, refs) => {
      const id = refs.id(v.c);
      return id === undefined ? undefined : { ...v, c: id };
    },
    dec: (s, refs) => {
      if (!s || typeof s !== 'object') return undefined;
      const id = (s as { c?: unknown }).c;
      const c = typeof id === 'string' ? refs.ctx(id) : undefined;
      return c === undefined ? undefined : ({ ...(s as object), c } as V);
    },
  };
}

/** A table of one plain value (or several fields) kept outside a Map. */
export function valueTable<C>(name: string, get: (refs: CtxRefs<C>) => unknown, set: (state: unknown, refs: CtxRefs<C>) => void): SessionTable<C> {
  return { name, snapshot: get, restore: set };
}

export const CLUSTER_SNAPSHOT_VERSION = 1;

/** Clusterer.snapshot(): every session table by name. */
export interface ClusterSnapshot {
  v: number;
  /** the clusterer's watermark when it was taken (null: no event yet) */
  watermark: number | null;
  tables: Record<string, unknown>;
}

export function snapshotTables<C>(tables: readonly SessionTable<C>[], refs: CtxRefs<C>, watermark: number): ClusterSnapshot {
  const out: Record<string, unknown> = {};
  for (const t of tables) out[t.name] = t.snapshot(refs);
  return { v: CLUSTER_SNAPSHOT_VERSION, watermark: Number.isFinite(watermark) ? watermark : null, tables: out };
}

/** Takes a snapshot back into `tables`; false (and nothing changed) for another version or no snapshot. */
export function restoreTables<C>(tables: readonly SessionTable<C>[], s: unknown, refs: CtxRefs<C>): boolean {
  const snap = s as Partial<ClusterSnapshot> | undefined;
  if (!snap || typeof snap !== 'object' || snap.v !== CLUSTER_SNAPSHOT_VERSION || !snap.tables || typeof snap.tables !== 'object') return false;
  for (const t of tables) t.restore(snap.tables[t.name], refs);
  return true;
}

/**
 * The Timeline view's swimlanes: contexts by lane key (the triggering user, or each namespace
 * the context touched), items kept in start order. Pure.
 */
import { FLAGGED_COLOR, OUTCOME_COLOR } from './format.ts';

export interface LaneContext {
  id: string;
  action: string;
  start: string;
  end: string;
  outcome: string;
  flags: string[];
  namespaces: string[];
  trigger: { user: string };
}

export type LaneBy = 'user' | 'namespace';

export interface LaneItem { ctx: LaneContext; start: number; end: number; color: string; /** sub-row within the lane */ row: number }
export interface Lane { key: string; items: LaneItem[]; /** sub-rows the lane needs so overlapping contexts do not hide each other */ rows: number }

/** Lane keys of Kubernetes' own components (shown only on request): kubelets, kube-* components, kube-system accounts. */
export const SYSTEM_LANE_PREFIXES = ['system:node:', 'system:kube-', 'system:apiserver', 'system:serviceaccount:kube-system:', 'system:serviceaccount:kube-public:', 'system:serviceaccount:kube-node-lease:'];
export function isSystemLane(key: string): boolean { return SYSTEM_LANE_PREFIXES.some((p) => key.startsWith(p)); }

/** Sub-rows at most per lane; further overlaps share the last one. */
export const MAX_SUBROWS = 4;

/**
 * Greedy interval packing: each item (in start order) takes the first sub-row free at its
 * start, where an item occupies its span plus `minGap` (the narrowest bar, in time units).
 */
export function packRows(items: LaneItem[], minGap: number, maxRows = MAX_SUBROWS): number {
  const ends: number[] = [];
  for (const it of items) {
    let r = ends.findIndex((e) => e <= it.start);
    if (r < 0) r = ends.length < maxRows ? ends.length : ends.indexOf(Math.min(...ends));
    it.row = r;
    ends[r] = Math.max(it.end, it.start + minGap);
  }
  return Math.max(1, ends.length);
}

export const NO_NAMESPACE = '(cluster-scoped)';

/** Colour of a context: flagged contexts stand out, else by outcome. */
export function colorOf(c: Pick<LaneContext, 'outcome' | 'flags'>): string {
  return c.flags.length ? FLAGGED_COLOR : OUTCOME_COLOR[c.outcome] ?? '#757575';
}

export interface LaneOptions {
  maxLanes?: number;
  /** keep lanes of Kubernetes components (isSystemLane) when lanes are per user; default false */
  system?: boolean;
  /** time (ms) the narrowest bar covers, for packing; default 0 */
  minGap?: number;
}

/**
 * Lanes sorted by number of contexts (most first), then key; a context with several
 * namespaces shows in each. `hidden` counts lanes left out (over maxLanes or system).
 */
export function buildLanes(contexts: readonly LaneContext[], by: LaneBy, opts: LaneOptions = {}): { lanes: Lane[]; hidden: number } {
  const maxLanes = opts.maxLanes ?? 40;
  const lanes = new Map<string, LaneItem[]>();
  for (const c of contexts) {
    const keys = by === 'user' ? [c.trigger.user] : c.namespaces.length ? c.namespaces : [NO_NAMESPACE];
    for (const k of keys) {
      let l = lanes.get(k);
      if (!l) lanes.set(k, (l = []));
      l.push({ ctx: c, start: Date.parse(c.start), end: Date.parse(c.end), color: colorOf(c), row: 0 });
    }
  }
  const all = [...lanes.entries()]
    .filter(([key]) => by !== 'user' || opts.system || !isSystemLane(key))
    .map(([key, items]) => {
      const sorted = items.sort((a, b) => a.start - b.start || a.end - b.end);
      return { key, items: sorted, rows: packRows(sorted, opts.minGap ?? 0) };
    })
    .sort((a, b) => b.items.length - a.items.length || a.key.localeCompare(b.key));
  return { lanes: all.slice(0, maxLanes), hidden: lanes.size - Math.min(all.length, maxLanes) };
}

/** [min start, max end] over the lanes, or undefined when empty. */
export function extentOf(lanes: readonly Lane[]): [number, number] | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (const l of lanes) for (const i of l.items) { lo = Math.min(lo, i.start); hi = Math.max(hi, i.end); }
  return lo <= hi ? [lo, hi] : undefined;
}

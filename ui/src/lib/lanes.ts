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

export interface LaneItem { ctx: LaneContext; start: number; end: number; color: string }
export interface Lane { key: string; items: LaneItem[] }

export const NO_NAMESPACE = '(cluster-scoped)';

/** Colour of a context: flagged contexts stand out, else by outcome. */
export function colorOf(c: Pick<LaneContext, 'outcome' | 'flags'>): string {
  return c.flags.length ? FLAGGED_COLOR : OUTCOME_COLOR[c.outcome] ?? '#757575';
}

/** Lanes sorted by number of contexts (most first), then key; a context with several namespaces shows in each. */
export function buildLanes(contexts: readonly LaneContext[], by: LaneBy, maxLanes = 40): { lanes: Lane[]; hidden: number } {
  const lanes = new Map<string, LaneItem[]>();
  for (const c of contexts) {
    const keys = by === 'user' ? [c.trigger.user] : c.namespaces.length ? c.namespaces : [NO_NAMESPACE];
    const item: LaneItem = { ctx: c, start: Date.parse(c.start), end: Date.parse(c.end), color: colorOf(c) };
    for (const k of keys) {
      let l = lanes.get(k);
      if (!l) lanes.set(k, (l = []));
      l.push(item);
    }
  }
  const all = [...lanes.entries()].map(([key, items]) => ({ key, items: items.sort((a, b) => a.start - b.start) }))
    .sort((a, b) => b.items.length - a.items.length || a.key.localeCompare(b.key));
  return { lanes: all.slice(0, maxLanes), hidden: Math.max(0, all.length - maxLanes) };
}

/** [min start, max end] over the lanes, or undefined when empty. */
export function extentOf(lanes: readonly Lane[]): [number, number] | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (const l of lanes) for (const i of l.items) { lo = Math.min(lo, i.start); hi = Math.max(hi, i.end); }
  return lo <= hi ? [lo, hi] : undefined;
}

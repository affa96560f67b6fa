/**
 * The Context view's waterfall: members grouped by the component that made them (the API's
 * `Member.component`), then by actor (controller, node, user), laid out over the context's time
 * span. Pure: the view draws the rows this returns.
 */
export interface WaterfallMember {
  auditID: string;
  time: string;
  user: string;
  verb: string;
  resource: string;
  subresource?: string | null;
  namespace?: string | null;
  name?: string | null;
  code: number;
  component: string;
  actor: string;
}

/** Order of the component groups, cause first; unknown components follow in name order. */
export const COMPONENT_ORDER = ['user', 'apiserver', 'controller-manager', 'scheduler', 'kubelet', 'kube-proxy', 'kube-system', 'system'];

export const COMPONENT_LABEL: Record<string, string> = {
  user: 'people & workloads',
  apiserver: 'apiserver',
  'controller-manager': 'controller-manager',
  scheduler: 'scheduler',
  kubelet: 'kubelets',
  'kube-proxy': 'kube-proxy',
  'kube-system': 'kube-system',
  system: 'other system users',
};

export interface ActorRow { actor: string; members: WaterfallMember[]; first: number; last: number }
export interface ComponentGroup { component: string; label: string; rows: ActorRow[]; count: number }

function rank(c: string): number {
  const i = COMPONENT_ORDER.indexOf(c);
  return i < 0 ? COMPONENT_ORDER.length : i;
}

/** Groups in COMPONENT_ORDER; rows in order of their first member; members in time order. */
export function groupMembers(members: readonly WaterfallMember[]): ComponentGroup[] {
  const groups = new Map<string, Map<string, WaterfallMember[]>>();
  for (const m of members) {
    let g = groups.get(m.component);
    if (!g) groups.set(m.component, (g = new Map()));
    let row = g.get(m.actor);
    if (!row) g.set(m.actor, (row = []));
    row.push(m);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([component, rows]) => {
      const list: ActorRow[] = [...rows.entries()].map(([actor, ms]) => {
        const sorted = [...ms].sort((x, y) => Date.parse(x.time) - Date.parse(y.time));
        return { actor, members: sorted, first: Date.parse(sorted[0]!.time), last: Date.parse(sorted[sorted.length - 1]!.time) };
      }).sort((a, b) => a.first - b.first || a.actor.localeCompare(b.actor));
      return { component, label: COMPONENT_LABEL[component] ?? component, rows: list, count: ms(list) };
    });
}

function ms(rows: ActorRow[]): number { return rows.reduce((s, r) => s + r.members.length, 0); }

/** x position (px) of a time within [start, end] drawn over `width`; a zero-length span puts everything at 0. */
export function xOf(time: number, start: number, end: number, width: number): number {
  if (end <= start) return 0;
  return Math.max(0, Math.min(width, ((time - start) / (end - start)) * width));
}

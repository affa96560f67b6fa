/**
 * Scores the contexts kontext built against ground truth (truth.ts), per user action:
 * - share of the action's core events in its largest context (the context holding most of
 *   them), that context's purity (share of its members that are the action's core events),
 *   and whether it is labelled as the right action (a helm install of the release);
 * - trigger Jaccard and ARI overall and by true context size (contexts.ts);
 * - label macro-F1 where the truth has labels (the simulator);
 * - "contexts triggered per user": trigger (non-background) contexts whose trigger user is U,
 *   next to the number of actions U triggered.
 */
import type { ContextDoc } from '../types/context.ts';
import { evaluateContexts, type ContextEvaluation } from './contexts.ts';
import { computeMetrics, type Scored } from '../label/metrics.ts';
import type { TruthSet } from './truth.ts';

export interface ActionScore {
  action: string;
  user?: string;
  release?: string;
  /** core events of the action in the log */
  core: number;
  /** contexts holding at least one of them */
  contexts: number;
  /** share of the core events in the largest context */
  share: number;
  /** share of the largest context's members that are the action's core events */
  purity: number;
  /** largest context labelled as this action (a helm install of the release); null when the action has no expected label */
  labelled: boolean | null;
  /** label and description of the largest context */
  label: string;
  description: string;
}

export interface UserScore { user: string; truth: number; predicted: number }

export interface RunScores {
  events: number;
  contexts: number;
  actions: ActionScore[];
  /** means over actions */
  meanShare: number;
  minShare: number;
  meanPurity: number;
  /** actions with share ≥ 0.9 and purity ≥ 0.95 */
  whole: number;
  /** actions with an expected label, and how many got it */
  labelExpected: number;
  labelRight: number;
  partition: ContextEvaluation;
  /** label macro-F1 (all labels) where the truth has labels */
  macroF1?: number;
  macroF1Trigger?: number;
  /** users who triggered actions, then one row "(others)" for trigger contexts of everyone else */
  users: UserScore[];
}

const isBackgroundContext = (d: ContextDoc) => d.label.startsWith('background ');

/**
 * Whether a context is labelled as a helm install of `release`: its label or description
 * names helm, an install and the release (as a whole name: "web" is not "web-2").
 */
export function labelledHelmInstall(d: ContextDoc, release: string): boolean {
  const text = `${d.label} ${d.action}`;
  const name = new RegExp(`(^|[\\s/])${release.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[\\s(),])`);
  return /helm/i.test(text) && /\binstall/i.test(text) && !/\buninstall/i.test(text) && name.test(text);
}

export function scoreContexts(truth: TruthSet, docs: readonly ContextDoc[], labels?: ReadonlyMap<string, string>): RunScores {
  const ctxOf = new Map<string, ContextDoc>();
  for (const d of docs) for (const m of d.members) ctxOf.set(m.auditID, d);

  // per action: counts of its core events by context
  const byAction = new Map<string, Map<ContextDoc | undefined, number>>();
  const coreOf = new Map<string, number>();
  for (const [id, t] of truth.events) {
    if (!t.action || !t.core) continue;
    coreOf.set(t.action, (coreOf.get(t.action) ?? 0) + 1);
    let row = byAction.get(t.action);
    if (!row) { row = new Map(); byAction.set(t.action, row); }
    const d = ctxOf.get(id);
    row.set(d, (row.get(d) ?? 0) + 1);
  }
  const actions: ActionScore[] = [];
  for (const [action, row] of byAction) {
    const info = truth.actions.get(action);
    const core = coreOf.get(action)!;
    let best: ContextDoc | undefined; let bestN = 0;
    for (const [d, n] of row) if (d && n > bestN) { best = d; bestN = n; }
    const members = best ? best.members.length : 0;
    actions.push({
      action, ...(info?.user ? { user: info.user } : {}), ...(info?.release ? { release: info.release } : {}),
      core, contexts: [...row.keys()].filter(Boolean).length + (row.get(undefined) ?? 0),
      share: core ? bestN / core : 0,
      purity: members ? bestN / members : 0,
      labelled: info?.release ? (best ? labelledHelmInstall(best, info.release) : false) : null,
      label: best?.label ?? '', description: best?.action ?? '',
    });
  }
  actions.sort((a, b) => b.core - a.core || a.action.localeCompare(b.action));

  // partition scores: core events by action, everything else background by requester
  const t = new Map<string, string>();
  const p = new Map<string, string>();
  for (const [id, e] of truth.events) {
    t.set(id, e.action && e.core ? e.action : `bg:${e.user}`);
    const d = ctxOf.get(id);
    if (d) p.set(id, d.id);
  }
  const partition = evaluateContexts(p, t);

  let macroF1: number | undefined; let macroF1Trigger: number | undefined;
  if (labels) {
    const rows: Scored[] = [];
    for (const [id, e] of truth.events) {
      if (!e.label) continue;
      rows.push({ truth: e.label, pred: labels.get(id) ?? '(none)', context: t.get(id)!, source: 'model' });
    }
    if (rows.length) { const m = computeMetrics(rows); macroF1 = m.macroF1; macroF1Trigger = m.macroF1Trigger; }
  }

  // contexts triggered per user
  const truthPerUser = new Map<string, number>();
  for (const a of truth.actions.values()) if (a.user) truthPerUser.set(a.user, (truthPerUser.get(a.user) ?? 0) + 1);
  const predPerUser = new Map<string, number>();
  // only contexts over the scored events (a truth restricted to part of a log scores that part)
  const scored = docs.filter((d) => !isBackgroundContext(d) && d.members.some((m) => truth.events.has(m.auditID)));
  for (const d of scored) predPerUser.set(d.trigger.user, (predPerUser.get(d.trigger.user) ?? 0) + 1);
  const users: UserScore[] = [...truthPerUser].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([user, n]) => ({ user, truth: n, predicted: predPerUser.get(user) ?? 0 }));
  let others = 0;
  for (const [u, n] of predPerUser) if (!truthPerUser.has(u)) others += n;
  users.push({ user: '(others)', truth: 0, predicted: others });

  const shares = actions.map((a) => a.share);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((x, y) => x + y, 0) / xs.length : 0);
  const expected = actions.filter((a) => a.labelled !== null);
  return {
    events: truth.events.size,
    contexts: new Set([...truth.events.keys()].map((id) => ctxOf.get(id)).filter(Boolean)).size,
    actions,
    meanShare: mean(shares),
    minShare: shares.length ? Math.min(...shares) : 0,
    meanPurity: mean(actions.map((a) => a.purity)),
    whole: actions.filter((a) => a.share >= 0.9 && a.purity >= 0.95).length,
    labelExpected: expected.length,
    labelRight: expected.filter((a) => a.labelled).length,
    partition,
    ...(macroF1 !== undefined ? { macroF1, macroF1Trigger } : {}),
    users,
  };
}

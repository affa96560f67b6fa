/**
 * The streaming generator: user actions arrive as a Poisson process across users, background
 * is generated one simulated second at a time, and records leave the time-ordered queue as
 * soon as nothing generated later can precede them. Memory stays bounded by the cascades in
 * flight, never by the run's length.
 */
import type { AuditEvent } from '../types/audit.ts';
import { parseLabelKey, type TriggerLabel } from '../types/label.ts';
import { Background, PRIOR_EVENTS_PER_ACTION } from './background.ts';
import { bootstrap } from './bootstrap.ts';
import { policyByName, type Policy } from '../k8s/audit-policy.ts';
import type { Verb } from './emit.ts';
import { HELM_UA, KUBECTL_DEFAULT_UA, type Actor } from './identity.ts';
import { ALL_SCENARIOS, scenarioByName, type Scenario } from './scenarios/index.ts';
import { Sim, type Act, type ResolvedOptions } from './sim.ts';
import { SEC } from './time.ts';

export const DEFAULTS = {
  seed: 1, start: Date.UTC(2026, 0, 1), durationMs: 10 * 60_000, actionsPerMinute: 30, users: 5, nodes: 3,
  backgroundShare: 0.6, stages: 'final' as const,
};

export interface OptionsIn {
  seed?: number; start?: number; durationMs?: number; actionsPerMinute?: number; users?: number; nodes?: number;
  backgroundShare?: number; mix?: Partial<Record<string, number>>; stages?: 'final' | 'all';
  /** audit policy: a name of POLICIES (k8s/audit-policy.ts), a level name, or a Policy */
  policy?: string | Policy;
}

/** Validates options and fills defaults. A given `mix` replaces the default weights (unlisted scenarios get 0). */
export function resolveOptions(o: OptionsIn = {}): ResolvedOptions {
  const num = (name: string, v: number | undefined, def: number, min: number, max = Infinity, int = false): number => {
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v))) {
      throw new RangeError(`simulate: ${name} must be ${int ? 'an integer' : 'a number'} in [${min}, ${max}], got ${String(v)}`);
    }
    return v;
  };
  const mix: Record<string, number> = {};
  if (o.mix) {
    for (const [k, w] of Object.entries(o.mix)) {
      if (!scenarioByName(k)) throw new RangeError(`simulate: unknown scenario ${JSON.stringify(k)} (known: ${ALL_SCENARIOS.map((s) => s.name).join(', ')})`);
      if (w === undefined) continue;
      mix[k] = num(`mix weight of ${k}`, w, 0, 0);
    }
    if (!Object.values(mix).some((w) => w > 0)) throw new RangeError('simulate: mix gives every scenario weight 0');
  } else {
    for (const s of ALL_SCENARIOS) mix[s.name] = s.weight;
  }
  const stages = o.stages ?? DEFAULTS.stages;
  if (stages !== 'final' && stages !== 'all') throw new RangeError(`simulate: stages must be "final" or "all", got ${JSON.stringify(stages)}`);
  return {
    seed: num('seed', o.seed, DEFAULTS.seed, -(2 ** 31), 2 ** 32, true),
    start: num('start', o.start, DEFAULTS.start, 0),
    durationMs: num('durationMs', o.durationMs, DEFAULTS.durationMs, 0),
    actionsPerMinute: num('actionsPerMinute', o.actionsPerMinute, DEFAULTS.actionsPerMinute, 0),
    users: num('users', o.users, DEFAULTS.users, 1, 10_000, true),
    nodes: num('nodes', o.nodes, DEFAULTS.nodes, 1, 5_000, true),
    backgroundShare: num('backgroundShare', o.backgroundShare, DEFAULTS.backgroundShare, 0, 0.95),
    mix, stages,
    ...(o.policy !== undefined ? { policy: resolvePolicy(o.policy) } : {}),
  };
}

function resolvePolicy(p: string | Policy): Policy {
  if (typeof p !== 'string') {
    if (!p || !Array.isArray(p.rules)) throw new RangeError('simulate: policy must be a policy name or an audit.k8s.io/v1 Policy with rules');
    return p;
  }
  try { return policyByName(p); } catch (e) { throw new RangeError(`simulate: ${(e as Error).message}`); }
}

const VERB_OF: Record<string, Verb> = { create: 'create', delete: 'delete', 'patch-update': 'patch', 'get-list': 'get', watch: 'watch' };

/** A user without the rights tries an admin action: one 403 request is the whole context. */
function forbiddenAttempt(sim: Sim, user: Actor, t0: number, s: Scenario): Act {
  const l = parseLabelKey(s.trigger) as TriggerLabel;
  let verb = VERB_OF[l.verbClass]!;
  if (l.scope === 'list') verb = verb === 'delete' ? 'deletecollection' : 'list';
  const a = sim.action(user, t0, { verb, res: l.resource, sub: l.subresource, list: l.scope === 'list' });
  const t = a.discovery(t0, 0.3);
  const ns = l.namespaced ? sim.rng.pick(['shop', 'payments', 'kube-system', 'default']) : undefined;
  const name = verb === 'create' && !l.subresource ? undefined : sim.rng.pick(['web', 'admin', 'ops', 'ci-bot', 'csr-node', 'shop', 'staging']);
  a.call({ trigger: true, at: t, verb, res: l.resource, ns, name, sub: l.subresource, code: 403 });
  return a;
}

function pickUser(sim: Sim, s: Scenario): Actor {
  const rng = sim.rng;
  const users = sim.users;
  if (s.name.startsWith('helm-')) {
    const ci = users.filter((u) => u.tool === 'helm');
    if (ci.length && rng.chance(0.7)) return rng.pick(ci);
    const admins = users.filter((u) => u.admin);
    const u = rng.pick(admins.length ? admins : users);
    return { ...u, userAgent: HELM_UA, tool: 'helm' };
  }
  const humans = users.filter((u) => u.tool !== 'helm');
  let pool = humans.length ? humans : users;
  if (s.admin) {
    const admins = pool.filter((u) => u.admin);
    const devs = pool.filter((u) => !u.admin);
    pool = admins.length && (!devs.length || rng.chance(0.9)) ? admins : devs;
  }
  const u = rng.pick(pool);
  return u.tool === 'helm' ? { ...u, userAgent: KUBECTL_DEFAULT_UA, tool: 'kubectl' } : u;
}

/**
 * Long runs stay bounded: past ~25 pods per node (or 24 namespaces, 400 objects of a kind),
 * a creating scenario gives way to its opposite.
 */
function full(sim: Sim, s: Scenario): boolean {
  if (!s.shrink) return false;
  const c = sim.cluster;
  if (s.name === 'namespace-create') return c.list('namespaces').length > 24;
  return c.list('pods').length > 25 * c.nodes.length || c.list('configmaps').length > 400 || c.list('secrets').length > 400;
}

function runAction(sim: Sim, t0: number, weights: [Scenario, number][]): void {
  let s: Scenario | undefined = sim.rng.weighted(weights);
  if (full(sim, s)) s = scenarioByName(s.shrink!) ?? s;
  const user = pickUser(sim, s);
  if (s.admin && !user.admin) { forbiddenAttempt(sim, user, t0, s); return; }
  for (let hops = 0; s && hops < 4; hops++) {
    if (s.run(sim, user, t0)) return;
    s = s.fallback ? scenarioByName(s.fallback) : undefined;
    if (s?.admin && !user.admin) return;
  }
}

export function* run(opts: OptionsIn = {}): Generator<AuditEvent> {
  const o = resolveOptions(opts);
  const sim = new Sim(o);
  bootstrap(sim);
  const weights: [Scenario, number][] = ALL_SCENARIOS.map((s) => [s, o.mix[s.name] ?? 0]);
  const bg = new Background(sim, PRIOR_EVENTS_PER_ACTION);
  const meanGap = o.actionsPerMinute > 0 ? (60 * SEC) / o.actionsPerMinute : Infinity;
  let nextAction = sim.start + Math.round(sim.rng.exp(meanGap));
  let nextBg = sim.start;
  for (;;) {
    const h = Math.min(nextAction, nextBg);
    if (h >= sim.end) break;
    while (sim.queue.peekTime() < h) yield sim.queue.pop()!;
    if (nextBg <= nextAction) { bg.tick(nextBg); nextBg += SEC; }
    else { runAction(sim, nextAction, weights); nextAction += Math.max(1, Math.round(sim.rng.exp(meanGap))); }
  }
  while (sim.queue.size) yield sim.queue.pop()!;
}

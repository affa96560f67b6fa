/**
 * The simulation engine: options, random streams, cluster state, the queue of pending audit
 * records, and `Act` — one user action whose requests (and the control-plane requests they
 * cause) all carry the action's ground-truth label and context id.
 */
import type { AuditEvent } from '../types/audit.ts';
import { labelKey, verbClassOf, type BackgroundKind } from '../types/label.ts';
import type { Policy } from '../k8s/audit-policy.ts';
import { ClusterState } from './cluster.ts';
import { Emitter, type Call, type Verb } from './emit.ts';
import { makeSystemActors, makeUsers, type Actor, type SystemActors } from './identity.ts';
import { TimeQueue } from './queue.ts';
import { resourceInfo } from './resources.ts';
import { Rng } from './rng.ts';
import { MIN, MS, SEC } from './time.ts';

export interface ResolvedOptions {
  seed: number;
  start: number;
  durationMs: number;
  actionsPerMinute: number;
  users: number;
  nodes: number;
  backgroundShare: number;
  mix: Record<string, number>;
  stages: 'final' | 'all';
  /** audit policy the records are logged under; none: the simulator's default levels (emit.ts policyLevel) */
  policy?: Policy;
}

export type CallIn = Omit<Call, 'actor'> & { actor?: Actor; trigger?: boolean };

export interface TriggerSpec { verb: Verb; res: string; sub?: string; list?: boolean }

export function triggerLabel(t: TriggerSpec): string {
  const r = resourceInfo(t.res);
  return labelKey({
    kind: 'trigger', resource: r.key, ...(t.sub ? { subresource: t.sub } : {}), namespaced: r.namespaced,
    scope: t.list ? 'list' : 'single', verbClass: verbClassOf(t.verb),
  });
}

export class Sim {
  readonly start: number; // µs
  readonly end: number;   // µs
  readonly queue = new TimeQueue<AuditEvent>();
  readonly emitter: Emitter;
  readonly cluster: ClusterState;
  /** randomness of user actions and their cascades */
  readonly rng: Rng;
  /** randomness of background traffic (independent of actions) */
  readonly bgRng: Rng;
  readonly users: Actor[];
  readonly sys: SystemActors;
  actionCount = 0;
  /** while true (bootstrap), actions change state but emit nothing */
  silent = false;

  constructor(readonly opts: ResolvedOptions) {
    const root = new Rng(opts.seed, 0);
    const idRng = root.fork('identities');
    this.rng = root.fork('actions');
    this.bgRng = root.fork('background');
    this.start = opts.start * MS;
    this.end = this.start + opts.durationMs * MS;
    this.emitter = new Emitter(this.queue, this.rng, opts.stages === 'all', opts.policy);
    this.cluster = new ClusterState(this.start, 1_000_000 + idRng.int(0, 8_000_000));
    this.users = makeUsers(opts.users, idRng);
    this.sys = makeSystemActors(idRng);
  }

  /** starts a user action whose trigger request is `trigger` */
  action(user: Actor, t0: number, trigger: TriggerSpec): Act {
    this.actionCount++;
    return new Act(this, user, t0, triggerLabel(trigger), this.rng.uuid());
  }

  /**
   * Control-plane work no user action caused (a CronJob's scheduled run, a resync): every
   * request is background `kind`, in the context of its own requester.
   */
  bgAct(t0: number, kind: BackgroundKind): Act {
    const a = new Act(this, this.sys.kcm, t0, `background ${kind}`, '');
    a.bgKind = kind;
    a.rngOverride = this.bgRng;
    return a;
  }

  /** a background request: labeled `background <kind>`, context `bg:<kind>:<username>` */
  bg(kind: BackgroundKind, c: Call, rng: Rng = this.bgRng): number {
    return this.emitter.emit(c, { label: `background ${kind}`, context: `bg:${kind}:${c.actor.username}`, background: true }, rng);
  }

  get backgroundEnabled(): boolean { return this.opts.backgroundShare > 0; }
}

export class Act {
  /** µs when the last request of the cascade completed */
  end: number;
  /** set for background cascades (see Sim.bgAct) */
  bgKind?: BackgroundKind;
  constructor(readonly sim: Sim, readonly user: Actor, readonly t0: number, readonly label: string, readonly id: string) {
    this.end = t0;
  }
  /** background cascades draw from the background stream */
  rngOverride?: Rng;
  get rng(): Rng { return this.rngOverride ?? this.sim.rng; }
  get cluster(): ClusterState { return this.sim.cluster; }
  get sys(): SystemActors { return this.sim.sys; }

  /** one request of this cascade; `trigger: true` marks the trigger (its auditID is the context id) */
  call(c: CallIn): number {
    const { trigger, actor, ...rest } = c;
    if (this.sim.silent) {
      const t = c.at + Math.round(c.latency ?? 3 * MS) + Math.round(c.duration ?? 0);
      if (t > this.end) this.end = t;
      return t;
    }
    const who = actor ?? this.user;
    const truth = this.bgKind
      ? { label: this.label, context: `bg:${this.bgKind}:${who.username}`, background: true }
      : { label: this.label, context: this.id, background: false };
    const t = this.sim.emitter.emit({ ...rest, actor: who, ...(trigger && !this.bgKind ? { auditID: this.id } : {}) }, truth, this.rng);
    if (t > this.end) this.end = t;
    return t;
  }

  /**
   * kubectl's discovery before an action when its cache is cold: background, not part of
   * the cascade. Returns when the client can send the real request.
   */
  discovery(t: number, p = 0.2): number {
    if (this.sim.silent || !this.sim.backgroundEnabled || !this.rng.chance(p) || this.user.tool !== 'kubectl') return t;
    let end = t;
    for (const path of ['/api', '/apis']) {
      end = this.sim.bg('discovery', { actor: this.user, at: end + this.rng.around(2 * MS), verb: 'get', path, latency: this.rng.around(1.5 * MS) }, this.rng);
    }
    return end + this.rng.around(8 * MS);
  }

  /** a small client-side pause (kubectl between requests) */
  think(t: number, median = 12 * MS): number { return t + Math.round(this.rng.around(median, 0.5)); }
}

export { MIN, MS, SEC };

/**
 * kontext's audit-log simulator: realistic, labeled Kubernetes audit events (audit.k8s.io/v1,
 * at any audit level or policy) for training, tests and benchmarks. Every record carries its ground
 * truth in `sim.kontext.io/label` and `sim.kontext.io/context` annotations.
 *
 *   for (const ev of simulate({ seed: 7, durationMs: 60_000 })) ...
 */
import type { AuditEvent } from '../types/audit.ts';
import type { Policy } from '../k8s/audit-policy.ts';
import { run } from './engine.ts';
import { ALL_SCENARIOS } from './scenarios/index.ts';

export interface SimulateOptions {
  seed?: number;              // default 1; same seed → byte-identical output
  start?: number;             // epoch ms of the first event (default Date.UTC(2026,0,1))
  durationMs?: number;        // simulated span (default 10 min)
  actionsPerMinute?: number;  // user actions started per minute across all users (default 30)
  users?: number;             // human/CI users acting concurrently (default 5)
  nodes?: number;             // worker nodes (default 3)
  backgroundShare?: number;   // share of raw events that are background noise (default 0.6)
  mix?: Partial<Record<string, number>>; // scenario name → weight (a given mix replaces the defaults)
  stages?: 'final' | 'all';   // 'all' also emits RequestReceived (and ResponseStarted) records (default 'final')
  /**
   * audit policy the records are logged under: a name of POLICIES ('metadata', 'request',
   * 'request-response', 'kubeadm-gke-default', 'k8s-docs-example'), a level name, or a Policy.
   * Default: the simulator's own levels (secrets and tokens at Metadata, reads at Request,
   * writes at RequestResponse). The traffic is the same under every policy; only what is
   * logged of it changes.
   */
  policy?: string | Policy;
}

/** Audit events in log (stageTimestamp) order. Lazy: records are generated as they are consumed. */
export function simulate(opts: SimulateOptions = {}): Iterable<AuditEvent> {
  return { [Symbol.iterator]: () => run(opts) };
}

/** Names of the scenarios, for `mix`. */
export const SCENARIOS: readonly string[] = ALL_SCENARIOS.map((s) => s.name);

/** Scenario descriptions: name, default weight, trigger label key, summary. */
export const SCENARIO_INFO: readonly { name: string; weight: number; trigger: string; summary: string }[] =
  ALL_SCENARIOS.map((s) => ({ name: s.name, weight: s.weight, trigger: s.trigger, summary: s.summary }));

export { resolveOptions, DEFAULTS } from './engine.ts';

/** The policies training and evaluation cover: the three levels and the two common mixed policies. */
export const TRAINING_POLICIES: readonly string[] = ['metadata', 'request', 'request-response', 'kubeadm-gke-default', 'k8s-docs-example'];

/**
 * The same traffic logged under each policy, one stream per policy (lazy, like `simulate`):
 * training or evaluation data at every audit level in one call.
 *
 *   for (const { policy, events } of simulateLevels({ seed: 1, durationMs: 3_600_000 })) ...
 */
export function simulateLevels(opts: Omit<SimulateOptions, 'policy'> = {}, policies: readonly (string | Policy)[] = TRAINING_POLICIES): { policy: string; events: Iterable<AuditEvent> }[] {
  return policies.map((policy) => ({
    policy: typeof policy === 'string' ? policy : policy.metadata?.name ?? 'custom',
    events: simulate({ ...opts, policy }),
  }));
}

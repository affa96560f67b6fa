/**
 * Training data from a recorded corpus: the events of one split's runs with their ground truth
 * written into the annotations `kontext train --input` reads (label and context), so the model
 * can be trained on the train split and evaluated on the test split.
 *
 * - context: the action (`<run>/<step>`) of an own or cascade event; background events, and a
 *   step's own discovery GETs (tier `discovery`: background to the step), get `bg:<run>`;
 * - label: an action's events carry the operation of its trigger (the step's first own write,
 *   or its first own request when it wrote nothing), as the simulator labels cascades;
 *   background events the background kind the inference rules give them (`background other`
 *   when no rule matches). Requests the rules claim from anyone, people included (discovery,
 *   health checks: a client refreshing its discovery cache before a command is not the
 *   command), are background whatever step sent them, as the simulator labels them and as the
 *   label stage treats them; they are never a step's trigger.
 * Labels are derived from the run as recorded (RequestResponse), then the run is rendered under
 * each requested audit policy in turn: the same request keeps its label at every level, and a
 * trigger a policy drops (or logs without bodies) still names its step's operation.
 * Runs (and each run's renderings) are laid end to end in run order, each shifted in time to
 * start a minute after the previous one ended, since runs recorded on clusters side by side
 * overlap in wall-clock time.
 */
import type { AuditEvent } from '../types/audit.ts';
import { TRUTH_CONTEXT_ANNOTATION, TRUTH_LABEL_ANNOTATION } from '../types/audit.ts';
import { opLabel } from '../k8s/ops.ts';
import { applyPolicy, policyByName, type Policy } from '../k8s/audit-policy.ts';
import { RuleSet } from '../label/rules.ts';
import { inSplit, listRuns, loadRun, type Split } from './corpus.ts';
import { CORE_TIERS, type TruthRow } from './truth.ts';
import { eventTime } from './truth.ts';

const WRITES = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
const GAP_MS = 60_000;

function shift(iso: string | undefined, ms: number): string | undefined {
  return iso === undefined ? undefined : new Date(Date.parse(iso) + ms).toISOString();
}

export interface EventTruth { label: string; context: string }

/**
 * The label and context every event of one run should get, by auditID, from the run's truth
 * rows: an action's own and cascade requests carry its trigger's operation, everything else the
 * background kind the inference rules give it.
 */
export function labelRun(run: string, events: readonly AuditEvent[], truth: ReadonlyMap<string, TruthRow>, rules = new RuleSet()): Map<string, EventTruth> {
  const sorted = [...events].sort((a, b) => eventTime(a) - eventTime(b));
  // the trigger of each action: its first own write, else its first own request
  const trigger = new Map<string, { ev: AuditEvent; write: boolean }>();
  const anyone = (e: AuditEvent) => rules.match(e)?.rule.anyUser === true;
  for (const e of sorted) {
    const t = truth.get(e.auditID);
    if (!t?.action || t.tier !== 'own' || e.stage !== 'ResponseComplete' || anyone(e)) continue;
    const write = WRITES.has(e.verb);
    const cur = trigger.get(t.action);
    if (!cur || (write && !cur.write)) trigger.set(t.action, { ev: e, write });
  }
  const out = new Map<string, EventTruth>();
  for (const e of sorted) {
    if (out.has(e.auditID)) continue; // a watch's two stages share one request
    const t = truth.get(e.auditID);
    const trig = t?.action && CORE_TIERS.includes(t.tier) && !anyone(e) ? trigger.get(t.action) : undefined;
    out.set(e.auditID, t?.action && trig
      ? { label: opLabel(trig.ev), context: t.action }
      : { label: `background ${rules.match(e)?.kind ?? 'other'}`, context: `bg:${run}` });
  }
  return out;
}

/**
 * The annotated events of the runs in `split`, in run order, laid end to end in time. With
 * `policies`, every run is rendered under each of them in turn (as recorded otherwise).
 */
export async function trainingEvents(corpusDir: string, split: Split | 'all' = 'train', log: (m: string) => void = () => {}, policies: readonly string[] = []): Promise<AuditEvent[]> {
  const rules = new RuleSet();
  const rendered: (Policy | undefined)[] = policies.length ? policies.map((p) => policyByName(p)) : [undefined];
  const out: AuditEvent[] = [];
  let next: number | undefined;
  let runs = 0;
  for (const dir of listRuns(corpusDir)) {
    const run = await loadRun(dir);
    const runSplit = run.manifest.split ?? 'test';
    if (!inSplit(runSplit, split)) continue;
    runs++;
    const labels = labelRun(run.manifest.run, run.events, run.truth, rules);
    for (const policy of rendered) {
      const events = (policy ? run.events.map((e) => applyPolicy(policy, e)).filter((e): e is AuditEvent => e !== undefined) : [...run.events])
        .sort((a, b) => eventTime(a) - eventTime(b));
      if (!events.length) continue;
      const first = eventTime(events[0]!);
      const delta = next === undefined ? 0 : next - first;
      for (const e of events) {
        const l = labels.get(e.auditID)!;
        out.push({
          ...e,
          requestReceivedTimestamp: shift(e.requestReceivedTimestamp, delta)!,
          stageTimestamp: shift(e.stageTimestamp, delta)!,
          annotations: { ...e.annotations, [TRUTH_LABEL_ANNOTATION]: l.label, [TRUTH_CONTEXT_ANNOTATION]: l.context },
        });
      }
      next = eventTime(events[events.length - 1]!) + delta + GAP_MS;
    }
  }
  const how = policies.length ? `, each logged under ${policies.join(', ')}` : '';
  log(`${corpusDir}: ${out.length} events of ${runs} ${split === 'all' ? '' : `${split} `}runs${how}`);
  return out;
}

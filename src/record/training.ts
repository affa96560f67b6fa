/**
 * Training data from a recorded corpus: the events of one split's runs with their ground truth
 * written into the annotations `kontext train --input` reads (label and context), so the model
 * can be trained on the train split and evaluated on the test split.
 *
 * - context: the action (`<run>/<step>`) of an own or cascade event; background events get
 *   `bg:<run>`;
 * - label: an action's events carry the operation of its trigger (the step's first own write,
 *   or its first own request when it wrote nothing), as the simulator labels cascades;
 *   background events the background kind the inference rules give them (`background other`
 *   when no rule matches).
 * Runs are laid end to end in run order (each shifted in time to start a minute after the
 * previous one ended), since runs recorded on clusters side by side overlap in wall-clock time.
 */
import type { AuditEvent } from '../types/audit.ts';
import { TRUTH_CONTEXT_ANNOTATION, TRUTH_LABEL_ANNOTATION } from '../types/audit.ts';
import { opLabel } from '../k8s/ops.ts';
import { RuleSet } from '../label/rules.ts';
import { inSplit, listRuns, loadRun, type Split } from './corpus.ts';
import { eventTime } from './truth.ts';

const WRITES = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
const GAP_MS = 60_000;

function shift(iso: string | undefined, ms: number): string | undefined {
  return iso === undefined ? undefined : new Date(Date.parse(iso) + ms).toISOString();
}

/** The annotated events of the runs in `split`, in run order, laid end to end in time. */
export async function trainingEvents(corpusDir: string, split: Split | 'all' = 'train', log: (m: string) => void = () => {}): Promise<AuditEvent[]> {
  const rules = new RuleSet();
  const out: AuditEvent[] = [];
  let next: number | undefined;
  let runs = 0;
  for (const dir of listRuns(corpusDir)) {
    const run = await loadRun(dir);
    const runSplit = run.manifest.split ?? 'test';
    if (!inSplit(runSplit, split)) continue;
    runs++;
    const events = [...run.events].sort((a, b) => eventTime(a) - eventTime(b));
    if (!events.length) continue;
    // the trigger of each action: its first own write, else its first own request
    const trigger = new Map<string, { ev: AuditEvent; write: boolean }>();
    for (const e of events) {
      const t = run.truth.get(e.auditID);
      if (!t?.action || t.tier !== 'own' || e.stage !== 'ResponseComplete') continue;
      const write = WRITES.has(e.verb);
      const cur = trigger.get(t.action);
      if (!cur || (write && !cur.write)) trigger.set(t.action, { ev: e, write });
    }
    const first = eventTime(events[0]!);
    const delta = next === undefined ? 0 : next - first;
    for (const e of events) {
      const t = run.truth.get(e.auditID);
      const trig = t?.action ? trigger.get(t.action) : undefined;
      const label = t?.action && trig ? opLabel(trig.ev) : `background ${rules.match(e)?.kind ?? 'other'}`;
      const context = t?.action && trig ? t.action : `bg:${run.manifest.run}`;
      out.push({
        ...e,
        requestReceivedTimestamp: shift(e.requestReceivedTimestamp, delta)!,
        stageTimestamp: shift(e.stageTimestamp, delta)!,
        annotations: { ...e.annotations, [TRUTH_LABEL_ANNOTATION]: label, [TRUTH_CONTEXT_ANNOTATION]: context },
      });
    }
    next = eventTime(events[events.length - 1]!) + delta + GAP_MS;
  }
  log(`${corpusDir}: ${out.length} events of ${runs} ${split === 'all' ? '' : `${split} `}runs`);
  return out;
}

/**
 * Context quality end to end: the streaming label stage (model or rules) feeds the clusterer,
 * and the resulting contexts are scored against the simulator's ground truth — next to the
 * same clusterer fed ground-truth labels, which isolates what labeling errors cost.
 */
import type { AuditEvent } from '../types/audit.ts';
import type { LabelStage } from '../types/pipeline.ts';
import { replay, eventTime, reorder, oracleLabel } from '../cluster/replay.ts';
import type { ClustererOptions } from '../cluster/clusterer.ts';
import { evaluateContexts, truthFromEvents, predictionFromContexts, type ContextEvaluation } from './contexts.ts';

export interface EndToEndEvaluation {
  /** contexts from the labeler's labels */
  labeled: ContextEvaluation;
  /** contexts from ground-truth labels (the clusterer's own ceiling) */
  oracle: ContextEvaluation;
  /** share of ground-truth user actions whose trigger request is a context's trigger */
  triggersFound: number;
  triggers: number;
}

export async function evaluateEndToEnd(events: readonly AuditEvent[], labeler: LabelStage, opts: ClustererOptions & { lateness?: number } = {}): Promise<EndToEndEvaluation> {
  const ordered = [...reorder(events.map((audit) => ({ audit, time: eventTime(audit) })), opts.lateness ?? 2000)];
  const labeled = [...(await labeler.push(ordered)), ...(await labeler.flush())];
  const truth = truthFromEvents(events);
  const ctxs = await replay(labeled, opts);
  const oracleCtxs = await replay(ordered.map((k) => oracleLabel(k.audit)), opts);
  const triggerIds = new Set<string>();
  for (const e of events) if (truth.get(e.auditID) === e.auditID) triggerIds.add(e.auditID);
  const found = new Set([...ctxs.values()].map((d) => d.trigger.auditID));
  return {
    labeled: evaluateContexts(predictionFromContexts(ctxs.values()), truth),
    oracle: evaluateContexts(predictionFromContexts(oracleCtxs.values()), truth),
    triggersFound: [...triggerIds].filter((id) => found.has(id)).length,
    triggers: triggerIds.size,
  };
}

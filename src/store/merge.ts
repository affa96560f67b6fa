/**
 * The summary of a context recomputed from the members the store holds for it. Used when the
 * pipeline's view of a context and the stored one differ (after a restart, a replay of an
 * overlapping file, a member stored in another context, a duplicate): membership is what the
 * member documents say, so no member the store has is ever dropped from the summary, and
 * none it does not have is counted.
 */
import type { ContextDoc, ContextMember, SecurityFlag } from '../types/context.ts';
import type { EsContextSource } from './codec.ts';
import { describeAction, FLAG_ORDER, FORBIDDEN_BURST, isFailure, isForbidden, memberAggregates, outcomeOf } from '../cluster/summary.ts';

/**
 * `pipeline`: the context as the pipeline sees it now; `stored`: the summary in the index (if
 * any); `members`: every member the store holds for this context id. Descriptive fields
 * (label, trigger, action basis, confidence) come from whichever view knew more members;
 * flags are the union; counts, span, sets and outcome are recomputed from `members`.
 */
export function mergeSummary(pipeline: ContextDoc, stored: EsContextSource | undefined, members: ContextMember[]): ContextDoc {
  const sorted = [...members].sort((a, b) => a.time - b.time || (a.auditID < b.auditID ? -1 : a.auditID > b.auditID ? 1 : 0));
  const base: EsContextSource = stored && stored.eventCount > pipeline.eventCount ? stored : pipeline;
  const aggregates = memberAggregates(sorted);
  let forbidden = 0; let failures = 0;
  for (const m of sorted) {
    if (isForbidden(m.code)) forbidden++;
    else if (isFailure(m)) failures++;
  }
  const flags = new Set<SecurityFlag>([...(pipeline.flags ?? []), ...(stored?.flags ?? [])]);
  flags.delete('forbidden-burst');
  if (forbidden >= FORBIDDEN_BURST) flags.add('forbidden-burst');
  const background = base.label.startsWith('background ') ? base.label.slice('background '.length) : undefined;
  return {
    ...base,
    action: describeAction(base.trigger, { background, eventCount: sorted.length, users: aggregates.users }),
    state: pipeline.state === 'closed' || stored?.state === 'closed' ? 'closed' : 'open',
    ...aggregates,
    outcome: outcomeOf(base.trigger, background !== undefined, sorted.length, forbidden, failures),
    failures,
    forbidden,
    flags: FLAG_ORDER.filter((f) => flags.has(f)),
    members: sorted,
  };
}

/**
 * The clusterer as a `Stage` (src/types/stage.ts): labeled events in, context writes out.
 * `push` returns the writes of the contexts that changed (open ones as `state: 'open'`,
 * closing on the event time pushed); `flush` closes every context.
 */
import type { LabeledEvent } from '../types/pipeline.ts';
import type { Stage } from '../types/stage.ts';
import type { ClusterStage, ContextWrite } from './types.ts';

export function clusterStage(c: ClusterStage): Stage<LabeledEvent, ContextWrite> {
  return {
    name: 'cluster',
    order: 'none',
    get pending() { return c.pending; },
    async push(events) {
      c.push(events);
      return c.collect(c.watermark === -Infinity ? undefined : c.watermark, false);
    },
    async flush() { return c.collect(undefined, true); },
  };
}

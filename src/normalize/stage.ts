/** Normalize as a `Stage` (src/types/stage.ts): raw units in, events out in event-time order. */
import type { KEvent } from '../types/pipeline.ts';
import type { RawUnit, Stage } from '../types/stage.ts';
import type { Normalizer } from './index.ts';

export function normalizeStage(n: Normalizer): Stage<RawUnit, KEvent> {
  return {
    name: 'normalize',
    order: 'event-time',
    get pending() { return n.pending; },
    async push(units) {
      for (const u of units) n.push(u.records, u.receipt, u.cluster);
      return n.drain(false);
    },
    async flush() { return n.drain(true); },
  };
}

/** The labeler as a `Stage` (src/types/stage.ts): events in, the same events labeled, in input order. */
import type { KEvent, LabeledEvent, LabelStage } from '../types/pipeline.ts';
import type { Stage } from '../types/stage.ts';

export function labelStage(l: LabelStage): Stage<KEvent, LabeledEvent> {
  return {
    name: 'label',
    order: 'input',
    get pending() { return l.pending; },
    push: (events) => l.push(events),
    flush: () => l.flush(),
  };
}

/**
 * The context writer as a `Stage` (src/types/stage.ts): context writes in, the documents out
 * once Elasticsearch stored them (their receipts are settled by then).
 */
import type { ContextDoc } from '../types/context.ts';
import type { Stage } from '../types/stage.ts';
import type { ContextSink, ContextWrite } from '../cluster/types.ts';

export function storeStage(sink: ContextSink): Stage<ContextWrite, ContextDoc> {
  return {
    name: 'store',
    order: 'none',
    get pending() { return sink.backlog; },
    async push(writes) {
      if (!writes.length) return [];
      await sink.write(writes);
      return writes.map((w) => w.doc);
    },
    async flush() { return []; },
  };
}

/**
 * A context sink that stores every write at once in memory and settles its receipts, keeping the
 * newest state of each context: for measuring the stages without Elasticsearch (benchmarks, and
 * tests of the stages in front of the store; Elasticsearch has its own tests).
 */
import type { ContextDoc } from '../types/context.ts';
import type { ContextSink, ContextWrite, WriteResult } from '../cluster/types.ts';

export class MemorySink implements ContextSink {
  healthy = true;
  backlog = 0;
  backlogDocs = 0;
  readonly docs = new Map<string, ContextDoc>();
  async write(batch: ContextWrite[]): Promise<WriteResult> {
    for (const w of batch) { this.docs.set(w.doc.id, w.doc); for (const r of w.receipts) r.receipt.settle(r.n); }
    return { stored: batch.length, rejected: 0 };
  }
  onStored(): () => void { return () => {}; }
  async close(): Promise<void> {}
}

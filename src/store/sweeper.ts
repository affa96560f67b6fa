/**
 * The periodic sweeper: while kontext runs, closes context documents another instance left
 * `open` (it crashed, or was scaled away) once they are past their maximum age. Safe when
 * several replicas share one Elasticsearch:
 *
 * - stale by event time: only documents whose last member is older than `horizonMs` before
 *   the store's newest event (`storeWatermark`) are candidates;
 * - stale by update time: a candidate is closed only when a later pass, at least
 *   `intervalMs` of wall time on, finds it at the same version, i.e. nobody wrote it in
 *   between. A context a live replica is still adding to gets a higher version and is left
 *   alone;
 * - the close is a write with the next external version, so any later write of the context
 *   by its owner (one more member: version 2 × count + closed rises) still wins, and two
 *   replicas closing the same document store it once (the second gets a 409, ignored).
 */
import type { Client } from '@elastic/elasticsearch';
import { closeOperation, staleOpenPages } from './restore.ts';
import { log as rootLog } from '../util/log.ts';
import { counter } from '../util/metrics.ts';

const log = rootLog.child({ stage: 'store' });
const mSwept = counter('kontext_store_periodic_swept_contexts_total', 'Stale open context documents closed by the periodic sweeper.');
const mSweepErrors = counter('kontext_store_sweep_errors_total', 'Periodic sweeper passes that failed (retried on the next pass).');

export interface SweeperOptions {
  client: Client;
  prefix: string;
  /** event time a document's last member must be behind the store's newest event */
  horizonMs: number;
  /** wall time between passes; a candidate must be unchanged across one full interval */
  intervalMs: number;
  refresh?: boolean | 'wait_for';
}

export class StaleSweeper {
  /** candidates of the previous pass: id → version seen */
  private seen = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(private readonly o: SweeperOptions) {}

  /** Starts the passes (the first one an interval from now). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => { void this.pass().catch(() => 0); }, this.o.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => 0);
  }

  /** One pass: remembers this pass's candidates, closes those unchanged since the previous pass; returns how many closed. */
  pass(): Promise<number> {
    this.running ??= this.doPass().catch((e: unknown) => {
      mSweepErrors.inc();
      log.warn('periodic sweep of stale open contexts failed; retrying on the next pass', { err: e as Error });
      return 0;
    }).finally(() => { this.running = undefined; });
    return this.running;
  }

  private async doPass(): Promise<number> {
    const { client, prefix, horizonMs } = this.o;
    const next = new Map<string, number>();
    const ops: unknown[] = [];
    for await (const hits of staleOpenPages(client, prefix, horizonMs, 100)) {
      for (const h of hits) {
        const v = h._version ?? 0;
        if (this.seen.get(h._id) === v) ops.push(...closeOperation(h));
        else next.set(h._id, v);
      }
    }
    let swept = 0;
    for (let i = 0; i < ops.length; i += 2000) {
      const r = await client.bulk({ operations: ops.slice(i, i + 2000), refresh: this.o.refresh });
      for (const it of r.items) if (it.index && it.index.status >= 200 && it.index.status < 300) swept++;
    }
    this.seen = next;
    if (swept) { mSwept.inc(undefined, swept); log.info('closed stale open contexts nobody updated (left by a crashed or stopped instance)', { contexts: swept, olderThanMs: horizonMs }); }
    return swept;
  }
}

/**
 * The restart checkpoint: the in-memory state that is not in the context documents — the
 * labeler's tracer (object→context links, helm release sessions, people's recent requests,
 * the features of events it holds) and the detections' correlation memory — stored in
 * `<prefix>-state` next to the contexts it belongs to.
 *
 * A snapshot is taken right when the pipeline hands a batch of context writes to the store
 * (then every event the labeler let out is in that batch) and saved once that batch is
 * stored, so the saved state never runs ahead of the stored contexts: events stored after
 * it were either acknowledged (their effect on the state is the part lost in a crash, at
 * most one `checkpoint-interval`) or are re-sent and taken in once. Saves are serialized;
 * a newer snapshot is never overwritten by an older one.
 */
import type { Client } from '@elastic/elasticsearch';
import { log as rootLog } from '../util/log.ts';
import { counter, gauge } from '../util/metrics.ts';

const log = rootLog.child({ stage: 'store' });
const mSaved = counter('kontext_checkpoint_saves_total', 'Restart checkpoints stored in <prefix>-state, by outcome.');
const mBytes = gauge('kontext_checkpoint_bytes', 'Size of the latest restart checkpoint.');

export interface CheckpointPart {
  name: string;
  /** the state as text (synchronous: it is taken between two pipeline steps) */
  snapshot(): string;
}

export interface StoredCheckpoint {
  /** wall time it was taken */
  time: number;
  /** newest event time released to the labeler when it was taken */
  newest: number | null;
  parts: Record<string, string>;
}

export interface CheckpointOptions {
  client: Client;
  prefix: string;
  /** least wall time between two snapshots (0: at every write) */
  intervalMs: number;
  /** document id; one per pipeline sharing the prefix (default "pipeline") */
  id?: string;
  refresh?: boolean | 'wait_for';
}

export const stateIndex = (prefix: string): string => `${prefix}-state`;

export class Checkpointer {
  private readonly parts: CheckpointPart[] = [];
  private chain: Promise<void> = Promise.resolve();
  private last = -Infinity;
  private ensured = false;
  private readonly id: string;

  constructor(private readonly o: CheckpointOptions) { this.id = o.id ?? 'pipeline'; }

  add(part: CheckpointPart): void { this.parts.push(part); }

  /** The stored checkpoint, or undefined (none, or the index is missing). */
  async load(): Promise<StoredCheckpoint | undefined> {
    try {
      const r = await this.o.client.get<StoredCheckpoint>({ index: stateIndex(this.o.prefix), id: this.id }, { ignore: [404] });
      return r.found ? r._source : undefined;
    } catch (e) {
      if ((e as { meta?: { statusCode?: number } }).meta?.statusCode === 404) return undefined;
      throw e;
    }
  }

  /**
   * A snapshot now, if one is due (or `force`): returns the function that saves it, to be
   * called once the writes taken with it are stored.
   */
  capture(newest: number, force = false, now = Date.now()): (() => Promise<void>) | undefined {
    if (!this.parts.length || (!force && now - this.last < this.o.intervalMs)) return undefined;
    this.last = now;
    const parts: Record<string, string> = {};
    for (const p of this.parts) parts[p.name] = p.snapshot();
    const doc: StoredCheckpoint = { time: now, newest: Number.isFinite(newest) ? newest : null, parts };
    return () => this.save(doc);
  }

  /** Resolves when every save handed out so far has finished. */
  settled(): Promise<void> { return this.chain; }

  private save(doc: StoredCheckpoint): Promise<void> {
    const run = this.chain.then(async () => {
      try {
        await this.ensureIndex();
        await this.o.client.index({ index: stateIndex(this.o.prefix), id: this.id, document: doc, refresh: this.o.refresh });
        mSaved.inc({ outcome: 'stored' });
        mBytes.set(Object.values(doc.parts).reduce((n, s) => n + s.length, 0));
      } catch (e) {
        mSaved.inc({ outcome: 'failed' });
        log.warn('restart checkpoint not stored (the next one is taken at the next write)', { err: e as Error });
        this.last = -Infinity;
      }
    });
    this.chain = run;
    return run;
  }

  /**
   * `<prefix>-state`: nothing in it is searched, so nothing is indexed; one replica where there
   * is a second node (a single node stays green, as with the other indices' default `0-1`)
   */
  private async ensureIndex(): Promise<void> {
    if (this.ensured) return;
    const index = stateIndex(this.o.prefix);
    try {
      await this.o.client.indices.create({ index, settings: { number_of_shards: 1, auto_expand_replicas: '0-1' }, mappings: { dynamic: false, properties: { time: { type: 'date' }, newest: { type: 'date' } } } });
    } catch (e) {
      const type = (e as { meta?: { body?: { error?: { type?: string } } } }).meta?.body?.error?.type;
      if (type !== 'resource_already_exists_exception') throw e;
    }
    this.ensured = true;
  }
}

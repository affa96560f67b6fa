/**
 * Retention of the daily contexts, members and dead-letter indices. Where the Elasticsearch
 * has ILM (default distribution, Elastic Cloud), the policy `<prefix>-retention` deletes an
 * index `retention` after its creation and is set on every daily index through the templates;
 * where it has none (the OSS / integ-test build), kontext deletes a day index itself once both
 * its day and its creation are older than the retention (hourly and at start-up), so data of
 * a replayed old log is kept the retention from when it was stored, as ILM would.
 * Retention 0 keeps everything. Raw indices have their own retention (writer.ts).
 */
import type { Client } from '@elastic/elasticsearch';
import { indexNames } from './codec.ts';
import { log as rootLog } from '../util/log.ts';
import { counter } from '../util/metrics.ts';

const log = rootLog.child({ stage: 'retention' });
const mDeleted = counter('kontext_retention_indices_deleted_total', 'Daily indices deleted by kontext because they passed the retention (no ILM).');

const DAY_MS = 86_400_000;

/** Does this Elasticsearch have index lifecycle management? */
export async function hasIlm(client: Client): Promise<boolean> {
  try {
    const r: any = await client.ilm.getStatus();
    return typeof r?.operation_mode === 'string';
  } catch {
    return false;
  }
}

export function policyName(prefix: string): string { return `${prefix}-retention`; }

/** The ILM policy body: delete `retentionMs` after index creation. */
export function ilmPolicy(retentionMs: number): Record<string, unknown> {
  const hours = Math.max(1, Math.round(retentionMs / 3_600_000));
  return {
    _meta: { managed_by: 'kontext' },
    phases: { hot: { min_age: '0ms', actions: {} }, delete: { min_age: `${hours}h`, actions: { delete: {} } } },
  };
}

/** Creates or updates the ILM policy; returns its name. */
export async function ensureIlmPolicy(client: Client, prefix: string, retentionMs: number): Promise<string> {
  const name = policyName(prefix);
  await client.ilm.putLifecycle({ name, policy: ilmPolicy(retentionMs) } as any);
  return name;
}

/** Daily index names that are past the retention at `now` (day and creation both older). */
export function expiredIndices(prefix: string, rows: Array<{ index?: string; 'creation.date'?: string | number }>, retentionMs: number, now: number): string[] {
  if (retentionMs <= 0) return [];
  const esc = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`^${esc}-(contexts|members|dead-letter)-(\\d{4})\\.(\\d{2})\\.(\\d{2})$`);
  const cutoff = now - retentionMs;
  const out: string[] = [];
  for (const row of rows) {
    const m = row.index ? re.exec(row.index) : null;
    if (!m) continue;
    const dayEnd = Date.UTC(Number(m[2]), Number(m[3]) - 1, Number(m[4])) + DAY_MS;
    const created = Number(row['creation.date'] ?? 0);
    if (dayEnd <= cutoff && created <= cutoff) out.push(row.index!);
  }
  return out;
}

/** Deletes the expired daily indices now; returns their names. */
export async function deleteExpired(client: Client, prefix: string, retentionMs: number, now = Date.now()): Promise<string[]> {
  if (retentionMs <= 0) return [];
  const n = indexNames(prefix);
  const rows = await client.cat.indices({ index: [n.contextsDaily, n.membersDaily, n.deadLetterDaily], format: 'json', h: 'index,creation.date', expand_wildcards: ['open', 'closed'] } as any) as any[];
  const expired = expiredIndices(prefix, rows, retentionMs, now);
  for (let i = 0; i < expired.length; i += 50) await client.indices.delete({ index: expired.slice(i, i + 50) });
  if (expired.length) { mDeleted.inc(undefined, expired.length); log.info('deleted daily indices past the retention', { indices: expired, retentionMs }); }
  return expired;
}

export interface Retention {
  /** 'ilm': Elasticsearch deletes; 'kontext': this process deletes; 'off': retention 0 */
  readonly mode: 'ilm' | 'kontext' | 'off';
  /** runs kontext's deletion now (mode 'kontext'), else resolves to [] */
  sweep(): Promise<string[]>;
  stop(): void;
}

/**
 * Sets retention up: with ILM the policy (call before the templates: they name it), else a
 * timer deleting expired day indices (first sweep right away).
 */
export async function startRetention(opts: { client: Client; prefix: string; retentionMs: number; ilm: boolean; intervalMs?: number; now?: () => number }): Promise<Retention> {
  const { client, prefix, retentionMs } = opts;
  if (retentionMs <= 0) return { mode: 'off', sweep: async () => [], stop() {} };
  if (opts.ilm) return { mode: 'ilm', sweep: async () => [], stop() {} };
  const now = opts.now ?? Date.now;
  let running: Promise<string[]> | undefined;
  const sweep = (): Promise<string[]> => {
    running ??= deleteExpired(client, prefix, retentionMs, now())
      .catch((e) => { log.warn('deleting expired indices failed; will retry', { err: e as Error }); return []; })
      .finally(() => { running = undefined; });
    return running;
  };
  const timer = setInterval(() => { void sweep(); }, opts.intervalMs ?? 3_600_000);
  timer.unref();
  void sweep();
  return { mode: 'kontext', sweep, stop() { clearInterval(timer); } };
}

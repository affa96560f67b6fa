/**
 * Alert output: POSTs every detection of a closed, stored context to a webhook, one JSON
 * request per (context, detection), in Falco's output format (`rule`, `priority`, `output`,
 * `time`, `source`, `tags`, `output_fields`) so Falcosidekick and Slack-style receivers take
 * it as is, plus the whole `context` summary.
 *
 * Subscribed to stored-and-closed contexts (Pipeline.subscribeClosed): nothing is alerted
 * before Elasticsearch holds the context it points to. Delivery is retried with exponential
 * backoff on network errors, 429 and 5xx. Each delivered alert is recorded in
 * `<prefix>-alerts` under `_id` `<context id>:<detection>` and looked up before sending, so a
 * context re-written after closing (late events) or seen again after a restart is not
 * alerted twice. At-least-once: a crash between the POST and the record can repeat one alert.
 */
import os from 'node:os';
import type { Client } from '@elastic/elasticsearch';
import { LRUCache } from 'lru-cache';
import type { ContextDetection, ContextDoc, DetectionSeverity } from '../types/context.ts';
import { counter } from '../util/metrics.ts';
import { log as rootLog } from '../util/log.ts';

const log = rootLog.child({ stage: 'alert' });
const mAlerts = counter('kontext_alerts_total', 'Alert webhook deliveries, by result.');

const RANK: Record<DetectionSeverity, number> = { critical: 5, high: 4, medium: 3, low: 2, info: 1 };
/** Falco priority names for severities (Falcosidekick routes on them). */
export const FALCO_PRIORITY: Record<DetectionSeverity, string> = {
  critical: 'Critical', high: 'Error', medium: 'Warning', low: 'Notice', info: 'Informational',
};

export interface AlertOptions {
  url: string;
  client: Client;
  indexPrefix: string;
  /** least severe detection alerted (default medium) */
  minSeverity?: DetectionSeverity;
  /** description and tags of a detection, for the message */
  describe?: (name: string) => { desc: string; tags: string[] } | undefined;
  /** first retry delay (default 1 s); doubles per attempt up to maxDelayMs (default 60 s) */
  retryBaseMs?: number;
  maxDelayMs?: number;
  /** attempts per alert before it is given up (default 10: about 8 minutes of retrying) */
  maxAttempts?: number;
  /** per request (default 10 s) */
  timeoutMs?: number;
  /** refresh of the alerts index writes (tests) */
  refresh?: boolean | 'wait_for';
}

export interface AlertPayload {
  uuid: string;
  rule: string;
  priority: string;
  output: string;
  time: string;
  source: 'kontext';
  hostname: string;
  tags: string[];
  output_fields: Record<string, unknown>;
  context: {
    id: string; action: string; label: string; user: string; start: string; end: string; namespaces: string[];
    outcome: string; eventCount: number; detection: ContextDetection; detections: ContextDetection[];
  };
}

const sleep = (ms: number) => new Promise<void>((r) => { setTimeout(r, ms).unref?.(); });

export class WebhookAlerter {
  readonly sent = { delivered: 0, duplicates: 0, failed: 0 };
  private readonly opts: Required<Omit<AlertOptions, 'describe' | 'refresh'>> & Pick<AlertOptions, 'describe' | 'refresh'>;
  private readonly index: string;
  private readonly done = new LRUCache<string, true>({ max: 100_000 });
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private indexReady: Promise<void> | undefined;

  constructor(opts: AlertOptions) {
    this.opts = { minSeverity: 'medium', retryBaseMs: 1000, maxDelayMs: 60_000, maxAttempts: 10, timeoutMs: 10_000, ...opts };
    this.index = `${opts.indexPrefix}-alerts`;
  }

  /** Queues the alerts of a context (call with closed, stored contexts). Never throws. */
  push(ctx: ContextDoc): void {
    if (this.closed || ctx.state !== 'closed') return;
    const due = (ctx.detections ?? []).filter((d) => RANK[d.severity] >= RANK[this.opts.minSeverity]);
    if (!due.length) return;
    this.chain = this.chain.then(() => this.deliver(ctx, due)).catch((e: unknown) => {
      log.error('alerting failed', { context: ctx.id, err: e instanceof Error ? e : new Error(String(e)) });
    });
  }

  /** Resolves when everything queued so far was delivered or given up. */
  idle(): Promise<void> { return this.chain; }

  /** Stops taking contexts; waits for queued alerts at most `graceMs` (default 10 s). */
  async close(graceMs = 10_000): Promise<void> {
    this.closed = true;
    const settled = await Promise.race([this.chain.then(() => true), sleep(graceMs).then(() => false)]);
    if (!settled) log.warn('shutting down with alerts still queued or retrying; they were not delivered', { graceMs });
  }

  /** Creates `<prefix>-alerts` when missing (once per process; retried after a failure). */
  private ensureIndex(): Promise<void> {
    this.indexReady ??= (async () => {
      try {
        await this.opts.client.indices.create({
          index: this.index,
          settings: { number_of_shards: 1, number_of_replicas: 0 },
          mappings: {
            dynamic: false,
            properties: {
              contextId: { type: 'keyword' }, detection: { type: 'keyword' }, severity: { type: 'keyword' },
              sentAt: { type: 'date', format: 'epoch_millis' },
            },
          },
        });
      } catch (e: any) {
        const type = e?.meta?.body?.error?.type ?? e?.body?.error?.type;
        if (type !== 'resource_already_exists_exception') { this.indexReady = undefined; throw e; }
      }
    })();
    return this.indexReady;
  }

  private async deliver(ctx: ContextDoc, due: ContextDetection[]): Promise<void> {
    await this.ensureIndex();
    const ids = due.map((d) => `${ctx.id}:${d.name}`);
    const fresh = new Set(ids.filter((id) => !this.done.has(id)));
    if (fresh.size) {
      // delivered before this process started?
      try {
        const res = await this.opts.client.mget({ index: this.index, ids: [...fresh], _source: false });
        for (const d of res.docs) if ('found' in d && d.found) { fresh.delete(d._id); this.done.set(d._id, true); }
      } catch (e: any) {
        if (e?.meta?.statusCode !== 404) throw e; // alerts index not created yet: nothing delivered
      }
    }
    for (let i = 0; i < due.length; i++) {
      const id = ids[i]!;
      if (!fresh.has(id)) { this.sent.duplicates++; mAlerts.inc({ result: 'duplicate' }); continue; }
      const ok = await this.post(this.payload(ctx, due[i]!, due));
      if (!ok) { this.sent.failed++; mAlerts.inc({ result: 'failed' }); continue; }
      this.done.set(id, true);
      this.sent.delivered++;
      mAlerts.inc({ result: 'delivered' });
      try {
        await this.opts.client.index({
          index: this.index, id, op_type: 'create', refresh: this.opts.refresh,
          document: { contextId: ctx.id, detection: due[i]!.name, severity: due[i]!.severity, sentAt: Date.now() },
        });
      } catch (e: any) {
        if (e?.meta?.statusCode !== 409) log.warn('delivered alert not recorded; it may be repeated after a restart', { id, err: e as Error });
      }
    }
  }

  payload(ctx: ContextDoc, d: ContextDetection, all: ContextDetection[]): AlertPayload {
    const info = this.opts.describe?.(d.name);
    const t = ctx.trigger;
    return {
      uuid: `${ctx.id}:${d.name}`,
      rule: d.name,
      priority: FALCO_PRIORITY[d.severity],
      output: `${d.name}: ${ctx.action}${info?.desc ? ` — ${info.desc}` : ''} (context ${ctx.id})`,
      time: new Date(ctx.end).toISOString(),
      source: 'kontext',
      hostname: os.hostname(),
      tags: info?.tags ?? [],
      output_fields: {
        'ka.user.name': t.user,
        'ka.verb': t.verb,
        'ka.target.resource': t.resource,
        'ka.target.subresource': t.subresource ?? null,
        'ka.target.namespace': t.namespace ?? null,
        'ka.target.name': t.name ?? null,
        'ka.response.code': t.code,
        'ka.auditid': d.auditIDs[0] ?? t.auditID,
        'kontext.context_id': ctx.id,
        'kontext.severity': d.severity,
        'kontext.audit_ids': d.auditIDs,
      },
      context: {
        id: ctx.id, action: ctx.action, label: ctx.label, user: t.user,
        start: new Date(ctx.start).toISOString(), end: new Date(ctx.end).toISOString(),
        namespaces: ctx.namespaces, outcome: ctx.outcome, eventCount: ctx.eventCount, detection: d, detections: all,
      },
    };
  }

  /** POST with retries; true when the receiver took it (2xx). */
  private async post(body: AlertPayload): Promise<boolean> {
    const { url, retryBaseMs, maxDelayMs, maxAttempts, timeoutMs } = this.opts;
    for (let attempt = 1; ; attempt++) {
      let reason: string;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'kontext-alert/0.1' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return true;
        reason = `HTTP ${res.status}`;
        if (res.status < 500 && res.status !== 429 && res.status !== 408) {
          log.error('alert webhook refused the alert; not retried', { alert: body.uuid, status: res.status });
          return false;
        }
      } catch (e) {
        reason = (e as Error).message;
      }
      if (attempt >= maxAttempts) {
        log.error('alert webhook unreachable; alert given up', { alert: body.uuid, attempts: attempt, reason });
        return false;
      }
      const delay = Math.min(maxDelayMs, retryBaseMs * 2 ** (attempt - 1));
      log.warn('alert webhook failed; retrying', { alert: body.uuid, attempt, reason, retryInMs: delay });
      mAlerts.inc({ result: 'retry' });
      await sleep(delay);
    }
  }
}

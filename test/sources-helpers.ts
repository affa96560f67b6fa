/** Test helpers for the ingest sources: a Downstream that settles receipts as told, events, TLS. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AuditEvent } from '../src/types/audit.ts';
import type { Downstream, Receipt } from '../src/types/pipeline.ts';

export type SettleMode = 'immediate' | 'manual' | 'fail';

export interface Pushed { records: unknown[]; receipt?: Receipt }

/**
 * A Downstream for source tests. `immediate` settles every record on push, `manual` holds the
 * units until `settleAll()` / `failAll()`, `fail` fails every unit. `saturated` is settable;
 * clearing it fires the drain callbacks (one-shot, like the pipeline's).
 */
export class TestDownstream implements Downstream {
  readonly units: Pushed[] = [];
  private held: Pushed[] = [];
  private drains: Array<() => void> = [];
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  private sat = false;
  private count = 0;
  failError = new Error('elasticsearch unavailable (test)');

  constructor(public mode: SettleMode = 'immediate') {}

  get records(): unknown[] { return this.units.flatMap((u) => u.records); }
  get recordCount(): number { return this.count; }
  get saturated(): boolean { return this.sat; }
  set saturated(v: boolean) {
    this.sat = v;
    if (!v) { const cbs = this.drains.splice(0); for (const cb of cbs) cb(); }
  }
  get drainWaiters(): number { return this.drains.length; }

  onDrain(cb: () => void): void {
    if (!this.sat) { queueMicrotask(cb); return; }
    this.drains.push(cb);
  }

  push(records: unknown[], receipt?: Receipt): void {
    const u = { records, receipt };
    this.units.push(u);
    if (this.mode === 'immediate') receipt?.settle(records.length);
    else if (this.mode === 'fail') receipt?.fail(this.failError);
    else this.held.push(u);
    this.count += records.length;
    const total = this.count;
    if (!this.waiters.length) return;
    this.waiters = this.waiters.filter((w) => { if (total >= w.n) { w.resolve(); return false; } return true; });
  }

  settleAll(): number {
    const h = this.held.splice(0);
    for (const u of h) u.receipt?.settle(u.records.length);
    return h.length;
  }

  failAll(err = this.failError): number {
    const h = this.held.splice(0);
    for (const u of h) u.receipt?.fail(err);
    return h.length;
  }

  get heldUnits(): number { return this.held.length; }

  /** resolves once at least `n` records were pushed in total */
  waitForRecords(n: number, timeoutMs = 5000): Promise<void> {
    if (this.count >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${n} records (have ${this.count})`)), timeoutMs);
      this.waiters.push({ n, resolve: () => { clearTimeout(t); resolve(); } });
    });
  }
}

let seq = 0;
/** A minimal valid audit event; `overrides` are merged on top. */
export function auditEvent(overrides: Partial<AuditEvent> & Record<string, unknown> = {}): AuditEvent {
  seq++;
  const t = new Date(Date.UTC(2026, 0, 1, 10, 0, 0) + seq * 10).toISOString().replace('Z', '123Z');
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/default/pods',
    verb: 'create',
    user: { username: 'alice', groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.1'],
    userAgent: 'kubectl/v1.30.2',
    objectRef: { resource: 'pods', namespace: 'default', name: `p-${seq}`, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 201 },
    requestReceivedTimestamp: t,
    stageTimestamp: t,
    annotations: { 'sim.kontext.io/label': 'create pods', 'sim.kontext.io/context': `ctx-${seq}` },
    ...overrides,
  } as AuditEvent;
}

/** A self-signed certificate for localhost (openssl), or undefined when openssl is missing. */
export function selfSignedCert(): { cert: Buffer; key: Buffer } | undefined {
  const dir = mkdtempSync(path.join(tmpdir(), 'kontext-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    return { cert: readFileSync(path.join(dir, 'cert.pem')), key: readFileSync(path.join(dir, 'key.pem')) };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Captures log lines while `fn` runs. */
export async function captureLogs<T>(fn: () => Promise<T>): Promise<{ result: T; lines: Record<string, unknown>[] }> {
  const { setLogSink } = await import('../src/util/log.ts');
  const lines: Record<string, unknown>[] = [];
  setLogSink((l) => { lines.push(JSON.parse(l) as Record<string, unknown>); });
  try {
    const result = await fn();
    return { result, lines };
  } finally {
    setLogSink((l) => { process.stderr.write(l + '\n'); });
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` until true or the timeout. */
export async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Collects log lines instead of printing them (call in `before`; `restore` in `after`). */
export async function quietLogs(): Promise<{ lines: Record<string, unknown>[]; restore: () => void; find: (re: RegExp) => Record<string, unknown> | undefined }> {
  const { setLogSink } = await import('../src/util/log.ts');
  const lines: Record<string, unknown>[] = [];
  setLogSink((l) => { lines.push(JSON.parse(l) as Record<string, unknown>); });
  return {
    lines,
    restore: () => setLogSink((l) => { process.stderr.write(l + '\n'); }),
    find: (re) => lines.find((l) => re.test(String(l.msg))),
  };
}

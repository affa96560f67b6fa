/**
 * A live source fed by the simulator: audit events are pushed into the pipeline as their
 * stageTimestamp comes due on the wall clock (optionally sped up), the way an apiserver would
 * log them. `kontext serve --simulate` uses it so a local run has traffic to look at. Sped up,
 * the simulated timeline is compressed onto the wall clock: an event's request and stage
 * timestamps are rewritten to the wall time it is pushed at, so no event is ever in the future
 * and "the last 15 minutes" shows the newest traffic.
 */
import type { Downstream } from '../../types/pipeline.ts';
import { simulate, type SimulateOptions } from '../../simulate/index.ts';
import { UnitReceipt } from '../receipt.ts';
import { log as rootLog } from '../../util/log.ts';
import { ingestRecords } from '../metrics.ts';
import { parseMicro, rfc3339Micro } from '../../simulate/time.ts';
import type { AuditEvent } from '../../types/audit.ts';

const log = rootLog.child({ component: 'simulated' });

export interface SimulatedSourceOptions extends Omit<SimulateOptions, 'start'> {
  /** simulated seconds per wall second (default 1) */
  speed?: number;
  /** records per pushed unit at most (default 500) */
  batch?: number;
}

export interface SimulatedSource {
  readonly pushed: number;
  stop(): Promise<void>;
}

export function startSimulatedSource(downstream: Downstream, opts: SimulatedSourceOptions = {}): SimulatedSource {
  const speed = opts.speed ?? 1;
  const batch = opts.batch ?? 500;
  const wallStart = Date.now();
  const start = wallStart;
  const it = simulate({ ...opts, start, durationMs: opts.durationMs ?? 7 * 24 * 3_600_000 })[Symbol.iterator]();
  let next = it.next();
  let pushed = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => { done = r; });

  const due = (): number => start + (Date.now() - wallStart) * speed;
  /** simulated time → the wall time it comes due at (identity at speed 1) */
  const toWall = (ts: string): string => {
    const us = parseMicro(ts);
    return Number.isNaN(us) ? ts : rfc3339Micro(wallStart * 1000 + (us - start * 1000) / speed);
  };
  const step = () => {
    timer = undefined;
    if (stopped) return;
    if (downstream.saturated) { downstream.onDrain(() => { if (!stopped) step(); }); return; }
    const now = due();
    const out: unknown[] = [];
    while (!next.done && Date.parse(next.value.stageTimestamp) <= now && out.length < batch) {
      const ev: AuditEvent = next.value;
      if (speed !== 1) { ev.requestReceivedTimestamp = toWall(ev.requestReceivedTimestamp); ev.stageTimestamp = toWall(ev.stageTimestamp); }
      out.push(ev);
      next = it.next();
    }
    if (out.length) {
      const receipt = new UnitReceipt(out.length);
      receipt.done.catch((e: Error) => log.warn('simulated records not stored', { err: e }));
      downstream.push(out, receipt);
      ingestRecords.inc({ source: 'simulated' }, out.length);
      pushed += out.length;
    }
    if (next.done) { log.info('simulation finished', { pushed }); done(); return; }
    const wait = out.length >= batch ? 0 : Math.max(5, Math.min(1000, (Date.parse(next.value.stageTimestamp) - due()) / speed));
    timer = setTimeout(step, wait);
  };
  log.info('feeding simulated audit traffic', { speed, seed: opts.seed ?? 1 });
  step();
  return {
    get pushed() { return pushed; },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      done();
      await finished;
    },
  };
}

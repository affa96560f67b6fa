/**
 * Labeled data for training and evaluation: simulated audit logs (or a JSONL file of them)
 * as KEvents in event-time order, with their ground truth, and time-contiguous splits.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createBrotliDecompress, createGunzip } from 'node:zlib';
import { TRUTH_CONTEXT_ANNOTATION, TRUTH_LABEL_ANNOTATION, type AuditEvent } from '../types/audit.ts';
import type { KEvent } from '../types/pipeline.ts';

/** requestReceivedTimestamp as epoch ms, keeping microseconds as a fraction. */
export function eventTime(ev: AuditEvent): number {
  const ts = ev.requestReceivedTimestamp ?? ev.stageTimestamp;
  const ms = Date.parse(ts);
  if (!Number.isFinite(ms)) throw new Error(`event ${ev.auditID}: bad timestamp ${JSON.stringify(ts)}`);
  const frac = /\.(\d+)/.exec(ts)?.[1];
  return frac && frac.length > 3 ? ms + Number(`0.${frac.slice(3)}`) : ms;
}

/**
 * Final-stage events in event-time order, as the normalize stage releases them: each event is
 * held until the newest time seen is `latenessMs` past it. Memory stays bounded by the
 * lateness window, so hours of simulated logs stream through.
 */
export function* inEventTimeOrder(audits: Iterable<AuditEvent>, latenessMs = 2000): Generator<KEvent> {
  const heap: [number, number, KEvent][] = [];
  const less = (a: [number, number, KEvent], b: [number, number, KEvent]) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  const push = (x: [number, number, KEvent]) => {
    heap.push(x);
    for (let i = heap.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!less(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!]; i = p;
    }
  };
  const pop = (): KEvent => {
    const top = heap[0]!; const last = heap.pop()!;
    if (heap.length) {
      heap[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1; const r = l + 1; let m = i;
        if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!]; i = m;
      }
    }
    return top[2];
  };
  let seq = 0; let newest = -Infinity;
  for (const a of audits) {
    if (a.stage !== 'ResponseComplete' && a.stage !== 'Panic') continue;
    const time = eventTime(a);
    if (time > newest) newest = time;
    push([time, seq++, { audit: a, time }]);
    while (heap.length && heap[0]![0] <= newest - latenessMs) yield pop();
  }
  while (heap.length) yield pop();
}

/** Events as the normalize stage hands them on: final stage only, sorted by event time (stable). */
export function toKEvents(audits: Iterable<AuditEvent>): KEvent[] {
  const out: KEvent[] = [];
  for (const a of audits) if (a.stage === 'ResponseComplete' || a.stage === 'Panic') out.push({ audit: a, time: eventTime(a) });
  return out.map((e, i) => [e, i] as const).sort((x, y) => x[0].time - y[0].time || x[1] - y[1]).map(([e]) => e);
}

export interface Truth { label: string; context: string }

export function truthOf(ev: AuditEvent): Truth | undefined {
  const label = ev.annotations?.[TRUTH_LABEL_ANNOTATION];
  const context = ev.annotations?.[TRUTH_CONTEXT_ANNOTATION];
  return label && context ? { label, context } : undefined;
}

export const SIM_START = Date.UTC(2026, 0, 1);

/** A re-playable source of events in event-time order, with the time span it covers. */
export interface EventSource {
  /** a fresh pass over the events */
  events(): Iterable<KEvent>;
  /** first and last event time (ms); for simulated logs, the simulated span */
  span(): { from: number; to: number };
  describe: string;
}

/**
 * Simulated events (regenerated on every pass: same seed, same events). With `policies`, the
 * traffic is logged under each policy in turn, `policyBlockMs` of simulated time each, so
 * every time range (training, validation, test) holds every audit level.
 */
export async function simulatedSource(opts: { seed: number; durationMs: number; policies?: readonly string[]; policyBlockMs?: number; start?: number }): Promise<EventSource> {
  const { simulate } = await import('../simulate/index.ts');
  const policies = opts.policies ?? [];
  const start = opts.start ?? SIM_START;
  if (!policies.length) {
    return {
      events: () => inEventTimeOrder(simulate({ seed: opts.seed, durationMs: opts.durationMs, start: start })),
      span: () => ({ from: start, to: start + opts.durationMs }),
      describe: `simulated seed ${opts.seed}, ${(opts.durationMs / 60_000).toFixed(0)} min`,
    };
  }
  const { applyPolicy, policyByName } = await import('../k8s/audit-policy.ts');
  const resolved = policies.map((p) => policyByName(p));
  const block = opts.policyBlockMs ?? 300_000;
  function* logged(): Generator<AuditEvent> {
    for (const ev of simulate({ seed: opts.seed, durationMs: opts.durationMs, start: start, policy: 'request-response' })) {
      const i = Math.floor((Date.parse(ev.requestReceivedTimestamp) - start) / block) % resolved.length;
      const out = applyPolicy(resolved[Math.max(0, i)]!, ev);
      if (out) yield out;
    }
  }
  return {
    events: () => inEventTimeOrder(logged()),
    span: () => ({ from: start, to: start + opts.durationMs }),
    describe: `simulated seed ${opts.seed}, ${(opts.durationMs / 60_000).toFixed(0)} min, logged under ${policies.join(', ')} in turns of ${(block / 60_000).toFixed(0)} min`,
  };
}

/**
 * Sources one after another, as one stream: each must start after the previous one ended (a
 * source that would overlap throws), so event time stays ordered across them.
 */
export function concatSources(sources: readonly EventSource[]): EventSource {
  if (!sources.length) throw new Error('concatSources: no sources');
  for (let i = 1; i < sources.length; i++) {
    if (sources[i]!.span().from < sources[i - 1]!.span().to) throw new Error(`concatSources: ${sources[i]!.describe} starts before ${sources[i - 1]!.describe} ends`);
  }
  return {
    *events() { for (const s of sources) yield* s.events(); },
    span: () => ({ from: sources[0]!.span().from, to: sources[sources.length - 1]!.span().to }),
    describe: sources.map((s) => s.describe).join(', then '),
  };
}

export function arraySource(events: readonly KEvent[], describe = 'given events'): EventSource {
  return {
    events: () => events,
    span: () => ({ from: events[0]?.time ?? 0, to: events[events.length - 1]?.time ?? 0 }),
    describe,
  };
}

/** Simulated events in event-time order, in memory. */
export async function simulatedEvents(opts: { seed: number; durationMs: number }): Promise<KEvent[]> {
  return [...(await simulatedSource(opts)).events()];
}

/** Time boundaries [t1, t2) of each part for shares like [0.7, 0.1, 0.2] of a span. */
export function timeBoundaries(span: { from: number; to: number }, fractions: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  let acc = 0;
  fractions.forEach((f, i) => {
    const a = span.from + acc * (span.to - span.from);
    acc += f;
    out.push([i === 0 ? -Infinity : a, i === fractions.length - 1 ? Infinity : span.from + acc * (span.to - span.from)]);
  });
  return out;
}

/** Audit events from a JSONL file (optionally gzipped); lines may also be EventLists. */
export async function readAuditFile(file: string): Promise<AuditEvent[]> {
  let input: NodeJS.ReadableStream = createReadStream(file);
  if (file.endsWith('.gz')) input = input.pipe(createGunzip());
  else if (file.endsWith('.br')) input = input.pipe(createBrotliDecompress());
  const rl = createInterface({ input, crlfDelay: Infinity });
  const out: AuditEvent[] = [];
  let n = 0;
  for await (const line of rl) {
    n++;
    if (!line.trim()) continue;
    let v: unknown;
    try { v = JSON.parse(line); } catch { throw new Error(`${file}:${n}: not JSON`); }
    const o = v as { kind?: string; items?: AuditEvent[] };
    if (o.kind === 'EventList' && Array.isArray(o.items)) out.push(...o.items);
    else if (o.kind === 'Event') out.push(v as AuditEvent);
    else throw new Error(`${file}:${n}: not an audit Event or EventList`);
  }
  return out;
}

/**
 * Health off the pipeline's critical path.
 *
 * The main thread publishes its state into a SharedArrayBuffer (HealthBoard): a heartbeat every
 * 250 ms and a set of "not ready" flags (not started, stopping, Elasticsearch unreachable, the
 * writer failing or stalled). A worker thread (health-worker.cjs) with its own tiny HTTP server
 * answers /healthz and /readyz from that buffer, so probes are answered even while the main
 * event loop is busy; a heartbeat that stops is itself reported (readiness after
 * LOOP_STALL_READY_MS, liveness after LOOP_STALL_LIVE_MS).
 */
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { log } from '../util/log.ts';

/** Not-ready reasons, one bit each; the texts are shown by /readyz. */
export const NOT_READY = {
  starting: { bit: 1, text: 'starting' },
  stopping: { bit: 2, text: 'shutting down' },
  esUnreachable: { bit: 4, text: 'Elasticsearch unreachable' },
  writerFailing: { bit: 8, text: 'writer: Elasticsearch refuses writes (retrying)' },
  writerStalled: { bit: 16, text: 'writer: events waiting but nothing stored recently' },
} as const;
export type NotReady = keyof typeof NOT_READY;

export const HEARTBEAT_MS = 250;
/** main loop silent this long: not ready */
export const LOOP_STALL_READY_MS = 5_000;
/** main loop silent this long: not alive (the process should be restarted) */
export const LOOP_STALL_LIVE_MS = 60_000;

const SLOT_HEARTBEAT = 0;
const SLOT_FLAGS = 1;

export interface Readiness { ready: boolean; reasons: string[] }

/** Main-thread side: what the health worker (and the main /readyz) read. */
export class HealthBoard {
  readonly buffer = new SharedArrayBuffer(2 * 8);
  private readonly f64 = new Float64Array(this.buffer);
  private flags: number = NOT_READY.starting.bit;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly now: () => number = Date.now) {
    this.beat();
  }

  /** starts the heartbeat; `poll` runs on every beat (publish flags from it) */
  start(poll?: () => void): void {
    this.timer ??= setInterval(() => { try { poll?.(); } finally { this.beat(); } }, HEARTBEAT_MS);
    this.timer.unref();
  }

  stop(): void { if (this.timer) clearInterval(this.timer); this.timer = undefined; }

  beat(): void {
    this.f64[SLOT_HEARTBEAT] = this.now();
    this.f64[SLOT_FLAGS] = this.flags;
  }

  set(reason: NotReady, on: boolean): void {
    const b = NOT_READY[reason].bit;
    this.flags = on ? this.flags | b : this.flags & ~b;
    this.f64[SLOT_FLAGS] = this.flags;
  }

  readiness(): Readiness { return readinessOf(this.f64, this.now()); }
}

/** The readiness encoded in a board's buffer at time `now` (used on the main thread). */
export function readinessOf(f64: Float64Array, now: number): Readiness {
  const flags = f64[SLOT_FLAGS]!;
  const reasons: string[] = Object.values(NOT_READY).filter((r) => (flags & r.bit) !== 0).map((r) => r.text);
  const silent = now - f64[SLOT_HEARTBEAT]!;
  if (silent > LOOP_STALL_READY_MS) reasons.push(`main event loop stalled for ${Math.round(silent / 1000)} s`);
  return { ready: reasons.length === 0, reasons };
}

export interface HealthServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts the health worker on host:port (0 picks a free port). */
export async function startHealthServer(board: HealthBoard, host: string, port: number): Promise<HealthServer> {
  const worker = new Worker(new URL('./health-worker.cjs', import.meta.url), {
    workerData: {
      buffer: board.buffer, host, port,
      reasons: Object.values(NOT_READY), readyStallMs: LOOP_STALL_READY_MS, liveStallMs: LOOP_STALL_LIVE_MS,
    },
    // a few MB: this thread serves two tiny endpoints
    resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
  });
  worker.unref();
  worker.on('error', (e) => log.error('health worker failed: /healthz and /readyz on the health port are down', { err: e.message }));
  const [msg] = await Promise.race([
    once(worker, 'message') as Promise<[{ port?: number; error?: string }]>,
    once(worker, 'error').then(([e]) => { throw e as Error; }),
  ]);
  if (msg.error || msg.port === undefined) { await worker.terminate(); throw new Error(`health server: ${msg.error ?? 'did not start'}`); }
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${msg.port}`,
    port: msg.port,
    close: async () => { await worker.terminate(); },
  };
}

/** What readiness watches: an Elasticsearch ping and the context writer. */
export interface ReadinessProbes {
  /** resolves when Elasticsearch answers (called every ES_CHECK_MS, must time out by itself) */
  pingEs: () => Promise<unknown>;
  writer: { readonly healthy: boolean; readonly backlogDocs: number; onStored(cb: () => void): () => void };
}

export const ES_CHECK_MS = 5_000;
/** every Elasticsearch ping failing for this long: not ready */
export const ES_UNREACHABLE_MS = 15_000;
/** documents waiting and none stored for this long: the writer is stalled */
export const WRITER_STALL_MS = 60_000;

/**
 * Publishes the readiness flags on every heartbeat: Elasticsearch reachability (pinged in the
 * background, never per probe), the writer failing, the writer stalled. Returns a stop function.
 */
export function monitorReadiness(board: HealthBoard, probes: ReadinessProbes, now: () => number = Date.now): () => void {
  /** since when every ping failed (undefined while Elasticsearch answers) */
  let esFailingSince: number | undefined;
  let esCheckedAt = 0;
  let checking = false;
  let progressAt = now();
  let hadBacklog = false;
  const offStored = probes.writer.onStored(() => { progressAt = now(); });
  board.start(() => {
    const t = now();
    if (!checking && t - esCheckedAt >= ES_CHECK_MS) {
      checking = true; esCheckedAt = t;
      probes.pingEs().then(() => { esFailingSince = undefined; }, () => { esFailingSince ??= now(); }).finally(() => { checking = false; });
    }
    board.set('esUnreachable', esFailingSince !== undefined && t - esFailingSince >= ES_UNREACHABLE_MS);
    board.set('writerFailing', !probes.writer.healthy);
    const backlog = probes.writer.backlogDocs > 0;
    if (backlog && !hadBacklog) progressAt = t;
    hadBacklog = backlog;
    board.set('writerStalled', backlog && t - progressAt > WRITER_STALL_MS);
  });
  return () => { offStored(); board.stop(); };
}

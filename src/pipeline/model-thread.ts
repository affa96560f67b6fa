/**
 * The main-thread side of the model worker (model-worker.ts): a `predict` with the same
 * signature as `SequenceModel.predict`, answered by a worker thread that holds its own copy of
 * the model. The label stage calls it the same way; while the worker computes, the main
 * thread's event loop keeps decoding and normalizing incoming forward chunks.
 *
 * If the worker dies, the requests it held are rejected (the label stage throws, the pipeline
 * fails those receipts and the peers re-send) and later requests run on the main thread's own
 * model (`fallback`), logged once.
 */
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import type { PredictFn } from '../label/index.ts';
import { log as rootLog } from '../util/log.ts';
import type { ModelWorkerData, ModelWorkerReply, PredictRequest } from './model-worker.ts';

const log = rootLog.child({ stage: 'label' });

/** the worker module beside this one: .ts under a TypeScript loader (tests, tsx), .js in dist/ */
function workerUrl(): { url: URL; execArgv: string[] } {
  const ts = import.meta.url.endsWith('.ts');
  // the name is put together so that the compiled module names no TypeScript file
  return { url: new URL(`./model-worker${ts ? '.ts' : '.js'}`, import.meta.url), execArgv: ts ? ['--import', 'tsx'] : [] };
}

/**
 * The worker holds the model and one batch of windows at a time: a small young generation
 * (V8's default reserves 16 MiB semi-spaces per isolate) keeps its RSS low; past the old
 * generation limit the worker stops and labeling falls back to the main thread.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 256 };

export class ModelThread {
  private readonly waiting = new Map<number, { resolve: (p: Float32Array) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private dead: Error | undefined;
  /** requests answered by the worker, and by the main thread after the worker died */
  readonly served = { worker: 0, fallback: 0 };

  private constructor(private readonly worker: Worker, private readonly fallback: PredictFn, readonly backend: string) {
    worker.on('message', (m: ModelWorkerReply) => {
      if (!('id' in m)) return;
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if ('error' in m) w.reject(new Error(`model worker: ${m.error}`));
      else { this.served.worker++; w.resolve(m.probs); }
    });
    const down = (err: Error) => {
      if (this.dead) return;
      this.dead = err;
      log.error('the model worker stopped: labeling continues on the main thread', { err });
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('error', down);
    worker.on('exit', (code) => down(new Error(`model worker exited (${code})`)));
  }

  /** Starts a worker that loads `modelDir`; resolves once it is ready to predict. */
  static async start(opts: { modelDir: string; fallback: PredictFn }): Promise<ModelThread> {
    const { url, execArgv } = workerUrl();
    const worker = new Worker(url, { workerData: { modelDir: opts.modelDir } satisfies ModelWorkerData, execArgv, resourceLimits: WORKER_LIMITS });
    worker.unref();
    const [first] = await Promise.race([
      once(worker, 'message') as Promise<[ModelWorkerReply]>,
      once(worker, 'error').then(([e]) => { throw e as Error; }),
      once(worker, 'exit').then(([code]) => { throw new Error(`model worker exited (${String(code)}) before it was ready`); }),
    ]);
    if (!('ready' in first) || !first.ready) {
      await worker.terminate();
      throw new Error(`model worker: ${'error' in first ? first.error : 'did not start'}`);
    }
    return new ModelThread(worker, opts.fallback, first.backend);
  }

  get alive(): boolean { return !this.dead; }

  /** `SequenceModel.predict`, on the worker (the inputs are copied: the caller reuses its buffers) */
  readonly predict: PredictFn = (emb, wide, batch, window) => {
    if (this.dead) { this.served.fallback++; return this.fallback(emb, wide, batch, window); }
    const id = this.nextId++;
    const req: PredictRequest = { id, emb: emb.slice(), wide: wide.slice(), batch, window };
    return new Promise<Float32Array>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage(req, [req.emb.buffer as ArrayBuffer, req.wide.buffer as ArrayBuffer]);
    });
  };

  async close(): Promise<void> {
    this.dead ??= new Error('model worker closed');
    for (const w of this.waiting.values()) w.reject(this.dead);
    this.waiting.clear();
    await this.worker.terminate();
  }

  /** for tests: ends the worker as a crash would */
  kill(): Promise<number> { return this.worker.terminate(); }
}

/**
 * The labeling model's inference on a worker thread (`--workers 1`): this thread loads the
 * same model directory with the same plain-JS forward pass (label/forward.ts) and answers `predict` requests
 * from the main thread's label stage (model-thread.ts). Only typed arrays cross the thread
 * boundary (embedded windows in, class probabilities out, both transferred, not copied), so
 * the main thread's time goes to forward decoding, normalize and the clusterer meanwhile.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadRuntimeBundle } from '../label/bundle.ts';

export interface ModelWorkerData { modelDir: string }
export interface PredictRequest { id: number; emb: Float32Array; wide: Float32Array; batch: number; window: number }
export type ModelWorkerReply =
  | { ready: true; backend: string; embedDim: number; classes: number }
  | { ready: false; error: string }
  | { id: number; probs: Float32Array }
  | { id: number; error: string };

async function main(): Promise<void> {
  const port = parentPort!;
  const { modelDir } = workerData as ModelWorkerData;
  let model;
  try {
    model = (await loadRuntimeBundle(modelDir)).model;
    port.postMessage({ ready: true, backend: 'js', embedDim: model.embedDim, classes: model.classes } satisfies ModelWorkerReply);
  } catch (e) {
    port.postMessage({ ready: false, error: e instanceof Error ? e.message : String(e) } satisfies ModelWorkerReply);
    return;
  }
  const m = model;
  // requests are answered one at a time, in order (the label stage awaits each before the next)
  let chain = Promise.resolve();
  port.on('message', (req: PredictRequest) => {
    chain = chain.then(async () => {
      try {
        const probs = await m.predict(req.emb, req.wide, req.batch, req.window);
        // a copy this thread owns outright (a backend may hand back memory it manages)
        const out = probs.slice();
        port.postMessage({ id: req.id, probs: out } satisfies ModelWorkerReply, [out.buffer as ArrayBuffer]);
      } catch (e) {
        port.postMessage({ id: req.id, error: e instanceof Error ? e.message : String(e) } satisfies ModelWorkerReply);
      }
    });
  });
}

void main();

/**
 * TensorFlow.js backend selection. `auto` uses the native tfjs-node binding when it is installed
 * and loads (it is an optional dependency whose install downloads libtensorflow), else the
 * WebAssembly backend, which works offline and is far faster than the pure-JS `cpu` backend.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { log } from '../util/log.ts';

export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export type Tf = typeof import('@tensorflow/tfjs');

const require = createRequire(import.meta.url);

/** How a module is imported; tests swap it to simulate a missing tfjs-node. */
export type Importer = (specifier: string) => Promise<unknown>;
const defaultImporter: Importer = (s) => import(s);

let loaded: { tf: Tf; backend: string } | undefined;

/** Directory holding the wasm binaries of @tensorflow/tfjs-backend-wasm, as a file URL ending in '/'. */
export function wasmDir(): string {
  const pkg = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return pathToFileURL(path.join(path.dirname(pkg), 'dist') + path.sep).href;
}

async function tryTensorflow(importer: Importer): Promise<Tf | undefined> {
  try {
    const mod = (await importer('@tensorflow/tfjs-node')) as Tf & { default?: Tf };
    const tf = (mod.default ?? mod) as Tf;
    await tf.setBackend('tensorflow');
    await tf.ready();
    return tf;
  } catch (e) {
    log.debug('tfjs-node not available', { error: e instanceof Error ? e.message : String(e) });
    return undefined;
  }
}

/**
 * Loads TensorFlow.js with the requested backend and returns it. The first successful call
 * fixes the backend for the process (TensorFlow.js has one global engine); later calls with a
 * different explicit choice switch the global backend.
 */
export async function loadTf(choice: BackendChoice = 'auto', importer: Importer = defaultImporter): Promise<{ tf: Tf; backend: string }> {
  if (choice === 'auto' || choice === 'tensorflow') {
    if (loaded?.backend === 'tensorflow') return loaded;
    const tf = await tryTensorflow(importer);
    if (tf) return (loaded = { tf, backend: 'tensorflow' });
    if (choice === 'tensorflow') throw new Error('backend "tensorflow" requested but @tensorflow/tfjs-node does not load (it is an optional dependency; use --backend wasm)');
  }
  const tf = (await importer('@tensorflow/tfjs')) as Tf;
  if (choice === 'cpu') {
    await tf.setBackend('cpu');
    await tf.ready();
    return (loaded = { tf, backend: 'cpu' });
  }
  const wasm = (await importer('@tensorflow/tfjs-backend-wasm')) as typeof import('@tensorflow/tfjs-backend-wasm');
  if (tf.getBackend() !== 'wasm') {
    wasm.setWasmPaths(wasmDir());
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new Error('TensorFlow.js wasm backend failed to initialize');
  }
  await tf.ready();
  return (loaded = { tf, backend: 'wasm' });
}

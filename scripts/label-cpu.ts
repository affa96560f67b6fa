/**
 * CPU-seconds per 1k events through the streaming label stage, TensorFlow.js (wasm) model vs
 * the plain-JS forward pass, alternated in one process on the same simulated events (seed 11,
 * the label bench's held-out seed); checks every event gets the same label from both.
 *   node --import tsx scripts/label-cpu.ts [minutes=10] [reps=3]
 */
import { loadTf } from '../src/label/backend.ts';
import { loadBundle, loadRuntimeBundle, type LabelModel, type ModelBundle } from '../src/label/bundle.ts';
import { simulatedEvents } from '../src/label/data.ts';
import { rulesFor } from '../src/label/index.ts';
import { StreamingLabeler } from '../src/label/stage.ts';
import { resolveModelDir } from '../src/pipeline/build.ts';
import type { KEvent, LabeledEvent } from '../src/types/pipeline.ts';

const minutes = Number(process.argv[2] ?? 10);
const reps = Number(process.argv[3] ?? 3);
const dir = resolveModelDir('models/default');
const { tf, backend } = await loadTf('wasm');
const tfb = await loadBundle(tf, dir);
const jsb = await loadRuntimeBundle(dir);
const events = await simulatedEvents({ seed: 11, durationMs: minutes * 60_000 });

async function run(bundle: ModelBundle<LabelModel>, evs: readonly KEvent[]): Promise<{ cpu: number; out: LabeledEvent[] }> {
  const stage = new StreamingLabeler({ rules: rulesFor(bundle), bundle });
  const out: LabeledEvent[] = [];
  const c0 = process.cpuUsage();
  for (let i = 0; i < evs.length; i += 1000) out.push(...await stage.push(evs.slice(i, i + 1000)));
  out.push(...await stage.flush());
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1e6, out };
}
await run(tfb, events.slice(0, 5000)); await run(jsb, events.slice(0, 5000));
const res: Record<string, number[]> = { tfjs: [], js: [] };
let a: LabeledEvent[] = []; let b: LabeledEvent[] = [];
for (let r = 0; r < reps; r++) {
  const x = await run(tfb, events); res.tfjs!.push(x.cpu); a = x.out;
  const y = await run(jsb, events); res.js!.push(y.cpu); b = y.out;
}
let same = 0; let maxConf = 0;
for (let i = 0; i < a.length; i++) { if (a[i]!.labelKey === b[i]!.labelKey) same++; maxConf = Math.max(maxConf, Math.abs(a[i]!.confidence - b[i]!.confidence)); }
const med = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
const per1k = (s: number) => (s / events.length) * 1000;
console.log(JSON.stringify({
  events: events.length, modelEvents: b.filter((e) => e.labelSource === 'model').length, reps, backend,
  cpuSecondsPer1k: { tfjs: +per1k(med(res.tfjs!)).toFixed(4), js: +per1k(med(res.js!)).toFixed(4) },
  ratio: +(med(res.tfjs!) / med(res.js!)).toFixed(2), sameLabel: `${same}/${a.length}`, maxConfidenceDiff: maxConf,
}, null, 1));

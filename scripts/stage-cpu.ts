/**
 * CPU-seconds per 1k events of the hot-path stages, this checkout against another one (the
 * code before a change), alternated in one process on the same simulated events: forward
 * entry decoding, normalize's validation, the label stage. Checks both give the same output.
 *   node --import tsx scripts/stage-cpu.ts <other checkout> [minutes=10] [reps=3]
 * Seed 17 (the end-to-end bench's). Under load, only the ratios mean something.
 */
import path from 'node:path';
import { encode } from '@msgpack/msgpack';
import { simulate } from '../src/simulate/index.ts';

const other = path.resolve(process.argv[2] ?? '');
const minutes = Number(process.argv[3] ?? 10);
const reps = Number(process.argv[4] ?? 3);
const here = path.resolve(import.meta.dirname, '..');

async function tree(root: string) {
  const m = (p: string) => import(path.join(root, 'src', p));
  const [entries, protocol, validate, label, build] = await Promise.all([m('sources/forward/entries.ts'), m('sources/forward/protocol.ts'), m('normalize/validate.ts'), m('label/index.ts'), m('pipeline/build.ts')]);
  return { entries, protocol, validate, label, build };
}
const trees = { before: await tree(other), after: await tree(here) };
const events = [...simulate({ seed: 17, durationMs: minutes * 60_000 })];
const { protocol } = trees.after;
const chunks: Buffer[] = [];
for (let i = 0; i < events.length; i += 512) {
  chunks.push(Buffer.concat(events.slice(i, i + 512).map((e) => Buffer.from(encode([[new protocol.EventTime(1_700_000_000, 0), {}], e], { extensionCodec: protocol.extensionCodec })))));
}
const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1e6; };

type T = Awaited<ReturnType<typeof tree>>;
async function pass(t: T) {
  const out: Record<string, number> = {};
  let c0 = cpu();
  const records: unknown[] = [];
  for (const ch of chunks) {
    const s = new t.entries.EntrySplitter(t.protocol.createDecoders(), 64 * 1024 * 1024, 512);
    for (const sl of t.entries.slices(ch)) for (const r of s.push(sl)) records.push(r);
  }
  out.decode = cpu() - c0;
  c0 = cpu();
  const audits = records.map((r) => t.validate.validateEvent((r as [unknown, unknown])[1]));
  out.validate = cpu() - c0;
  const labeler = await t.label.createLabeler({ modelDir: t.build.resolveModelDir('models/default'), backend: 'wasm' });
  const kev = audits.map((v: { event: unknown; time: number }) => ({ audit: v.event, time: v.time }));
  const labels: string[] = [];
  c0 = cpu();
  for (let i = 0; i < kev.length; i += 1000) for (const e of await labeler.push(kev.slice(i, i + 1000))) labels.push(e.labelKey);
  for (const e of await labeler.flush()) labels.push(e.labelKey);
  out.label = cpu() - c0;
  return { out, records, labels };
}
await pass(trees.before); await pass(trees.after);
const res: Record<string, Record<string, number[]>> = { before: {}, after: {} };
let last: Record<string, Awaited<ReturnType<typeof pass>>> = {};
for (let r = 0; r < reps; r++) for (const k of ['before', 'after'] as const) {
  const p = await pass(trees[k]); last[k] = p;
  for (const [s, v] of Object.entries(p.out)) (res[k]![s] ??= []).push(v);
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const per1k = (s: number) => +(s / events.length * 1000).toFixed(4);
const table: Record<string, unknown> = {};
for (const s of Object.keys(res.after!)) table[s] = { before: per1k(med(res.before![s]!)), after: per1k(med(res.after![s]!)), ratio: +(med(res.before![s]!) / med(res.after![s]!)).toFixed(2) };
const sameRecords = JSON.stringify(last.before!.records) === JSON.stringify(last.after!.records);
const sameLabels = last.before!.labels.every((l, i) => l === last.after!.labels[i]) && last.before!.labels.length === last.after!.labels.length;
console.log(JSON.stringify({ events: events.length, reps, cpuSecondsPer1k: table, sameRecords, sameLabels }, null, 1));

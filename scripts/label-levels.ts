/**
 * Label macro-F1 per audit level of one or more models, side by side: the recorded corpus's
 * test split and a simulator seed no model was trained on.
 *
 *   node --import tsx scripts/label-levels.ts [--corpus datasets/recorded] [--split test] [--seed 9] [--duration 30m] [--json out.json] models/default /tmp/other
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/config/config.ts';
import { evaluateLevels, type LevelScore } from '../src/label/evaluate.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { corpus: { type: 'string', default: 'datasets/recorded' }, split: { type: 'string', default: 'test' }, seed: { type: 'string', default: '9' }, duration: { type: 'string', default: '30m' }, levels: { type: 'string' }, json: { type: 'string' } },
});
const models = positionals.length ? positionals : ['models/default'];
const results: Record<string, LevelScore[]> = {};
for (const m of models) {
  results[m] = await evaluateLevels({
    modelDir: m, backend: 'auto', corpus: values.corpus || undefined, split: values.split as 'test', seed: values.seed === '' ? undefined : Number(values.seed),
    durationMs: parseDuration(values.duration!), levels: values.levels?.split(','), log: (s) => process.stderr.write(`${m}: ${s}\n`),
  });
}
if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2) + '\n');
const rows = results[models[0]!]!;
process.stdout.write(`| data | level | events | ${models.map((m) => `${m} macro-F1 (trigger) / acc`).join(' | ')} |\n|---|---|---|${models.map(() => '---').join('|')}|\n`);
rows.forEach((r, i) => {
  process.stdout.write(`| ${r.data} | ${r.level} | ${r.events} | ${models.map((m) => { const x = results[m]![i]!; return `${x.macroF1.toFixed(3)} (${x.macroF1Trigger.toFixed(3)}) / ${x.accuracy.toFixed(3)}`; }).join(' | ')} |\n`);
});

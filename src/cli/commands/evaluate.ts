import { flagNumber, flagString, UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { evaluateLabeler } from '../../label/evaluate.ts';
import { formatMetrics } from '../../label/metrics.ts';
import { parseBackend, parseDurationFlag } from './train.ts';

export const command: Command = {
  name: 'evaluate',
  summary: 'Evaluate labeling against ground truth (simulated, or an annotated JSONL file).',
  usage: '[options]',
  description: [
    'Streams audit events through the label stage and compares with the ground truth annotations',
    '(sim.kontext.io/label, sim.kontext.io/context): macro-F1 over all labels and over trigger labels,',
    'per-label F1, the most confused pairs, and accuracy by true context size.',
    'Without --input it simulates a fresh log with --seed (default 7, a seed the shipped model was not trained on).',
  ].join('\n'),
  flags: [
    { flag: 'model', help: 'Model directory.', default: 'models/default' },
    { flag: 'seed', help: 'Simulator seed.', default: '7' },
    { flag: 'duration', help: 'Simulated time span (e.g. 30m, 2h).', default: '1h' },
    { flag: 'input', help: 'JSONL(.gz) of annotated audit events to evaluate instead of simulating.' },
    { flag: 'window', help: 'Override the model\'s window.' },
    { flag: 'stride', help: 'Override the model\'s stride.' },
    { flag: 'backend', help: 'TensorFlow.js backend: auto, tensorflow, wasm, cpu.', default: 'auto' },
    { flag: 'json', help: 'Print the metrics as JSON.', boolean: true },
  ],
  usesConfig: false,
  async run(args) {
    const f = args.flags;
    if (args.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
    const window = f.window !== undefined ? flagNumber(f, 'window', 0, { int: true, min: 1 }) : undefined;
    const stride = f.stride !== undefined ? flagNumber(f, 'stride', 0, { int: true, min: 1 }) : undefined;
    const r = await evaluateLabeler({
      modelDir: flagString(f, 'model') ?? 'models/default',
      seed: flagNumber(f, 'seed', 7, { int: true }),
      durationMs: parseDurationFlag(flagString(f, 'duration'), 3_600_000),
      input: flagString(f, 'input'),
      backend: parseBackend(flagString(f, 'backend')),
      window, stride,
      log: (m) => process.stderr.write(m + '\n'),
    });
    if (f.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    else {
      process.stdout.write(`${r.source}: ${r.metrics.events} events, model ${r.modelDir} (${r.mode}), ${r.eventsPerSecond.toFixed(0)} events/s\n\n`);
      process.stdout.write(formatMetrics(r.metrics) + '\n');
    }
  },
};

import { flagNumber, flagString, UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { ConfigError, parseDuration } from '../../config/config.ts';
import type { BackendChoice } from '../../label/backend.ts';
import { readAuditFile, toKEvents } from '../../label/data.ts';
import { TRAIN_DEFAULTS, train } from '../../label/train.ts';

const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'];
const d = TRAIN_DEFAULTS;

export function parseBackend(v: string | undefined): BackendChoice {
  const b = v ?? 'auto';
  if (!BACKENDS.includes(b)) throw new UsageError(`--backend: must be one of ${BACKENDS.join(', ')}, got ${JSON.stringify(b)}`);
  return b as BackendChoice;
}

export function parseDurationFlag(v: string | undefined, def: number, flag = 'duration'): number {
  if (v === undefined) return def;
  try { return parseDuration(v); } catch (e) { throw new UsageError(`--${flag}: ${(e as ConfigError).message}`); }
}

export const command: Command = {
  name: 'train',
  summary: 'Train the labeling model on simulated (or given) audit logs.',
  usage: '[options]',
  description: [
    'Simulates labeled audit logs (or reads --input, or the train split of a recorded --corpus) logged under every audit level and the common mixed',
    'policies in turns (--policies), prunes inference rules by their measured precision,',
    'trains the BiLSTM on the first 70% of the log by time, early-stops on the next 10%, and evaluates the',
    'streaming label stage on the last 20%. Writes model.json, weights.bin, vocab.json, config.json and',
    'metrics.json to --out.',
  ].join('\n'),
  flags: [
    { flag: 'out', help: 'Model directory to write.', default: 'models/default' },
    { flag: 'seed', help: 'Simulator and training seed.', default: String(d.seed) },
    { flag: 'duration', help: 'Simulated time span of the data (e.g. 90m, 3h).', default: '3h' },
    { flag: 'input', help: 'Train on this JSONL(.gz) of annotated audit events instead of simulating.' },
    { flag: 'corpus', help: 'Train on a recorded corpus (e.g. datasets/recorded) instead of simulating: the runs of --split, with their ground truth.' },
    { flag: 'split', help: 'Runs of the --corpus to train on: train (recorded first; the test runs stay held out for kontext evaluate), test, or all.', default: 'train' },
    { flag: 'seeds', help: 'With --corpus: also train on simulated traffic of these seeds (comma-separated, each --duration long, logged under --policies), laid before the corpus; the --splits shares then cut the corpus only.' },
    { flag: 'splits', help: 'Train, validation and test shares of the data\'s time (comma-separated).', default: d.splits.join(',') },
    { flag: 'policies', help: 'Audit policies or levels the simulated traffic is logged under, in turns (comma-separated; "none": the simulator\'s own levels).', default: d.policies.join(',') },
    { flag: 'policy-block', help: 'Simulated time each policy logs before the next one takes over.', default: '5m' },
    { flag: 'epochs', help: 'Maximum epochs.', default: String(d.epochs) },
    { flag: 'patience', help: 'Stop after this many epochs without validation improvement.', default: String(d.patience) },
    { flag: 'window', help: 'Events per window.', default: String(d.window) },
    { flag: 'stride', help: 'Events between window starts when labeling (= window: no overlap).', default: String(d.stride) },
    { flag: 'units', help: 'BiLSTM units per layer, comma-separated (e.g. 32 or 64,32).', default: d.units.join(',') },
    { flag: 'embed', help: 'Event embedding width.', default: String(d.embed) },
    { flag: 'batch-size', help: 'Windows per training batch.', default: String(d.batchSize) },
    { flag: 'learning-rate', help: 'Adam learning rate.', default: String(d.learningRate) },
    { flag: 'max-minutes', help: 'Stop training after this many minutes (keeps the best epoch).', default: String(d.maxMinutes) },
    { flag: 'backend', help: 'TensorFlow.js backend: auto, tensorflow, wasm, cpu.', default: 'auto' },
    { flag: 'init', help: 'Start from the weights of this model directory (same architecture; feature tokens and classes it does not know start fresh).' },
  ],
  usesConfig: false,
  async run(args) {
    const f = args.flags;
    if (args.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
    const units = (flagString(f, 'units') ?? d.units.join(',')).split(',').map((s) => Number(s.trim()));
    if (!units.length || units.some((u) => !Number.isInteger(u) || u < 1)) throw new UsageError('--units: expected positive integers, e.g. 32 or 64,32');
    const window = flagNumber(f, 'window', d.window, { int: true, min: 1 });
    const stride = flagNumber(f, 'stride', Math.min(d.stride, window), { int: true, min: 1 });
    if (stride > window) throw new UsageError(`--stride (${stride}) must not exceed --window (${window})`);
    const input = flagString(f, 'input');
    const corpus = flagString(f, 'corpus');
    if (input && corpus) throw new UsageError('--input and --corpus exclude each other');
    if (!corpus && f.split !== undefined) throw new UsageError('--split applies only with --corpus');
    const split = flagString(f, 'split') ?? 'train';
    if (split !== 'train' && split !== 'test' && split !== 'all') throw new UsageError(`--split: train, test or all, got ${JSON.stringify(split)}`);
    const seed = flagNumber(f, 'seed', d.seed, { int: true });
    const durationMs = parseDurationFlag(flagString(f, 'duration'), d.durationMs);
    const pol = flagString(f, 'policies') ?? d.policies.join(',');
    const policies = pol === 'none' ? [] : pol.split(',').map((p) => p.trim()).filter(Boolean);
    const seedList = flagString(f, 'seeds');
    if (seedList !== undefined && !corpus) throw new UsageError('--seeds applies only with --corpus (use --seed without it)');
    const seeds = seedList === undefined ? undefined : seedList.split(',').map((x) => Number(x.trim()));
    if (seeds && (!seeds.length || seeds.some((x) => !Number.isInteger(x)))) throw new UsageError('--seeds: expected integers, e.g. 1,13');
    const splits = (flagString(f, 'splits') ?? d.splits.join(',')).split(',').map((x) => Number(x.trim()));
    if (splits.length !== 3 || splits.some((x) => !Number.isFinite(x) || x < 0) || Math.abs(splits[0]! + splits[1]! + splits[2]! - 1) > 1e-6 || splits[0]! <= 0) throw new UsageError('--splits: three shares that add up to 1, e.g. 0.8,0.1,0.1');
    let events = input ? toKEvents(await readAuditFile(input)) : undefined;
    if (corpus) {
      const { trainingEvents } = await import('../../record/training.ts');
      const audits = await trainingEvents(corpus, split, (m) => process.stderr.write(m + '\n'), policies);
      if (!audits.length) throw new UsageError(`--corpus ${corpus}: no runs of the ${split} split`);
      events = toKEvents(audits);
    }
    const policyBlockMs = parseDurationFlag(flagString(f, 'policy-block'), d.policyBlockMs, 'policy-block');
    const started = Date.now();
    const result = await train({
      ...d, out: flagString(f, 'out') ?? 'models/default', seed, seeds, durationMs, events, policies, policyBlockMs, splits: splits as [number, number, number],
      epochs: flagNumber(f, 'epochs', d.epochs, { int: true, min: 1 }),
      patience: flagNumber(f, 'patience', d.patience, { int: true, min: 1 }),
      window, stride, units, embed: flagNumber(f, 'embed', d.embed, { int: true, min: 1 }),
      batchSize: flagNumber(f, 'batch-size', d.batchSize, { int: true, min: 1 }),
      learningRate: flagNumber(f, 'learning-rate', d.learningRate, { min: 0 }),
      maxMinutes: flagNumber(f, 'max-minutes', d.maxMinutes, { min: 0 }),
      backend: parseBackend(flagString(f, 'backend')),
      initFrom: flagString(f, 'init'),
      log: (m) => process.stderr.write(m + '\n'),
      command: ['kontext', 'train', ...process.argv.slice(3)].join(' '),
    });
    const m = result.metrics;
    process.stdout.write([
      `model written to ${result.dir} in ${((Date.now() - started) / 1000).toFixed(0)}s`,
      `test (last ${(splits[2]! * 100).toFixed(0)}% of the data's time, streaming): macro-F1 ${m.test.macroF1} all labels, ${m.test.macroF1Trigger} trigger labels; accuracy ${m.test.accuracy}`,
      '',
    ].join('\n'));
  },
};

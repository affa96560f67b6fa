import { flagNumber, flagString, UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { evaluateLabeler } from '../../label/evaluate.ts';
import { formatMetrics } from '../../label/metrics.ts';
import { corpusCases, LEVEL_POLICIES, simulatorCases, type SplitChoice } from '../../eval/corpus.ts';
import { evaluateCases, formatCaseDetail, formatCaseTable, type CaseResult } from '../../eval/report.ts';
import { parseBackend, parseDurationFlag } from './train.ts';

const LEVEL_NAMES = LEVEL_POLICIES.map((l) => l.level);

function parseLevels(s: string | undefined): string[] {
  if (s === undefined || s === 'all') return [...LEVEL_NAMES];
  if (s === 'none') return [];
  const out: string[] = [];
  for (const part of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const hit = LEVEL_NAMES.find((l) => l.toLowerCase() === part.toLowerCase() || LEVEL_POLICIES.find((p) => p.level === l)!.policy === part.toLowerCase());
    if (!hit) throw new UsageError(`--levels: unknown level ${JSON.stringify(part)}; known: ${LEVEL_NAMES.join(', ')}, all, none`);
    out.push(hit);
  }
  return out;
}

function parseSplit(s: string | undefined): SplitChoice {
  const v = s ?? 'test';
  if (v !== 'train' && v !== 'test' && v !== 'all') throw new UsageError(`--split: train, test or all, got ${JSON.stringify(v)}`);
  return v;
}

function printContexts(results: CaseResult[], detail: boolean): void {
  process.stdout.write(formatCaseTable(results) + '\n');
  if (detail) for (const r of results) process.stdout.write('\n' + formatCaseDetail(r) + '\n');
}

export const command: Command = {
  name: 'evaluate',
  summary: 'Evaluate labeling and contexts against ground truth (simulated at every audit level, or a corpus).',
  usage: '[options]',
  description: [
    'Without --corpus: simulates a fresh log with --seed (default 7, a seed the shipped model was not trained',
    'on) and streams it through the label stage: macro-F1 over all labels and over trigger labels, per-label',
    'F1, the most confused pairs, accuracy by true context size. Then the same traffic logged at each audit',
    'level (--levels) goes through normalize → label → cluster, and the contexts are scored per level.',
    '',
    'With --corpus DIR: scores the contexts built from a real corpus, format auto-detected: an hkerma',
    'capture (strict and enriched variants, Metadata level) or a recorded corpus (<run>/manifest.json,',
    'audit*.jsonl[.br|.gz], truth.jsonl[.br|.gz]; RequestResponse recordings are rendered at every level and the mixed',
    'policies). A missing DIR is skipped with a message. Of a recorded corpus only the test split is scored',
    '(the runs recorded after the training runs; --split train|all to change it).',
    '',
    'Per-level columns: whole = actions with ≥90% of their core events in one context of ≥95% purity;',
    'share/min = mean/min share of an action\'s core events in its largest context; purity = that context\'s',
    'share of the action\'s core events; label = helm installs labelled as the install of their release;',
    'J trig / ARI trig = trigger-context Jaccard and ARI; users ctx/truth = trigger contexts of the users who',
    'acted vs their actions; others = trigger contexts started by anyone else (controllers, nodes).',
    '',
    'Examples:',
    '  kontext evaluate --corpus /path/to/hkerma-dev',
    '  kontext evaluate --corpus datasets/recorded --json',
    '  kontext evaluate --corpus datasets/recorded --runs r59-',
    '  kontext evaluate --duration 20m --levels Metadata,RequestResponse',
  ].join('\n'),
  flags: [
    { flag: 'model', help: 'Model directory.', default: 'models/default' },
    { flag: 'corpus', help: 'Corpus directory to score contexts on (hkerma capture or recorded corpus).' },
    { flag: 'split', help: 'Runs of a recorded corpus to score: test (held out, recorded after the training runs), train, or all (default: test, or all with --runs).' },
    { flag: 'runs', help: 'Recorded runs to score with --corpus: r01-r58, r59-, r07 or a list of those (any split unless --split is given).' },
    { flag: 'seed', help: 'Simulator seed.', default: '7' },
    { flag: 'duration', help: 'Simulated time span (e.g. 30m, 2h).', default: '1h' },
    { flag: 'levels', help: `Audit levels / policies to score simulated contexts at: ${LEVEL_NAMES.join(', ')}, all, none.`, default: 'all' },
    { flag: 'input', help: 'JSONL(.gz) of annotated audit events to evaluate labeling on instead of simulating.' },
    { flag: 'window', help: 'Override the model\'s window.' },
    { flag: 'stride', help: 'Override the model\'s stride.' },
    { flag: 'backend', help: 'TensorFlow.js backend: auto, tensorflow, wasm, cpu.', default: 'auto' },
    { flag: 'detail', help: 'Also print per-action and per-user rows of each case.', boolean: true },
    { flag: 'json', help: 'Print the results as JSON.', boolean: true },
  ],
  usesConfig: false,
  async run(args) {
    const f = args.flags;
    if (args.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
    const window = f.window !== undefined ? flagNumber(f, 'window', 0, { int: true, min: 1 }) : undefined;
    const stride = f.stride !== undefined ? flagNumber(f, 'stride', 0, { int: true, min: 1 }) : undefined;
    const modelDir = flagString(f, 'model') ?? 'models/default';
    const backend = parseBackend(flagString(f, 'backend'));
    const seed = flagNumber(f, 'seed', 7, { int: true });
    const durationMs = parseDurationFlag(flagString(f, 'duration'), 3_600_000);
    const levels = parseLevels(flagString(f, 'levels'));
    const log = (m: string) => process.stderr.write(m + '\n');
    const corpus = flagString(f, 'corpus');
    if (!corpus && f.runs !== undefined) throw new UsageError('--runs applies with --corpus only');

    if (!corpus && f.split !== undefined) throw new UsageError('--split applies only with --corpus');
    if (corpus) {
      for (const k of ['input', 'window', 'stride']) if (f[k] !== undefined) throw new UsageError(`--${k} does not apply with --corpus`);
      const split = f.split !== undefined ? parseSplit(flagString(f, 'split')) : undefined;
      const cases = await corpusCases(corpus, log, { split, runs: flagString(f, 'runs') }).catch((e: Error) => { throw new UsageError(`--corpus: ${e.message}`); });
      if (!cases) { log(`corpus ${corpus} not found: skipping (nothing to evaluate)`); return 0; }
      if (!cases.length) { log(`corpus ${corpus} holds no runs of the chosen split or selection (--split train|test|all, --runs): skipping`); return 0; }
      const results = await evaluateCases(cases, { modelDir, backend, log });
      if (f.json) process.stdout.write(JSON.stringify({ corpus, modelDir, results }, null, 2) + '\n');
      else printContexts(results, true);
      return 0;
    }

    const r = await evaluateLabeler({
      modelDir, seed, durationMs, input: flagString(f, 'input'), backend, window, stride, log,
    });
    const contexts = levels.length && !flagString(f, 'input')
      ? await evaluateCases(await simulatorCases({ seed, durationMs, levels }, log), { modelDir, backend, log })
      : [];
    if (f.json) process.stdout.write(JSON.stringify({ ...r, contexts }, null, 2) + '\n');
    else {
      process.stdout.write(`${r.source}: ${r.metrics.events} events, model ${r.modelDir} (${r.mode}), ${r.eventsPerSecond.toFixed(0)} events/s\n\n`);
      process.stdout.write(formatMetrics(r.metrics) + '\n');
      if (contexts.length) { process.stdout.write('\ncontexts per audit level:\n'); printContexts(contexts, !!f.detail); }
    }
    return 0;
  },
};

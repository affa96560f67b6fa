/**
 * Rewrites a stored corpus' ground truth with the current rules (src/record/truth.ts), from what
 * each run keeps: its events (`audit.jsonl.br`) and its steps (`manifest.json`). No recording or
 * work folder is needed. Each run is derived on its own: links from earlier runs on the same
 * cluster are not seen, which changes nothing as long as the runs' steps only touch their own
 * objects (the runs' namespaces are named after them); steps of other runs and the cluster setup
 * were background in a run's truth anyway.
 */
import path from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { listRuns, loadRun, runTruth, writeSplits, writeTruthRows, type RunManifest } from './corpus.ts';
import { deriveTruth, TRUTH_RULES, type Tier, type TruthRules, type TruthStep } from './truth.ts';

/** A run's steps as the truth rules take them: action `<run>/<step>`, epoch-ms window. */
export function manifestSteps(m: Pick<RunManifest, 'run' | 'steps'>): TruthStep[] {
  return m.steps.map((s) => ({ action: `${m.run}/${s.id}`, user: s.user, start: Date.parse(s.start), end: Date.parse(s.end) }));
}

export interface RetruthResult {
  run: string;
  requests: number;
  /** rows whose tier or action changed */
  changed: number;
  /** "old tier→new tier" → rows */
  moves: Record<string, number>;
  counts: Record<Tier, number>;
}

/** Re-derives one run's truth from its stored events and steps; rewrites truth and manifest counts. */
export async function retruthRun(dir: string, rules: TruthRules = TRUTH_RULES): Promise<RetruthResult> {
  const run = await loadRun(dir);
  const m = run.manifest;
  const rows = runTruth(m.run, run.events, deriveTruth(run.events, manifestSteps(m), rules));
  let changed = 0;
  const moves: Record<string, number> = {};
  for (const r of rows) {
    const old = run.truth.get(r.auditID);
    if (old && old.tier === r.tier && old.action === r.action) continue;
    changed++;
    const k = `${old?.tier ?? '(none)'}→${r.tier}`;
    moves[k] = (moves[k] ?? 0) + 1;
  }
  const counts = writeTruthRows(dir, rows);
  // manifest.json is read back as stored, only its counts change
  const file = path.join(dir, 'manifest.json');
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RunManifest;
  raw.counts = { events: raw.counts.events, requests: rows.length, ...counts, steps: raw.counts.steps };
  writeFileSync(file, JSON.stringify(raw, null, 2) + '\n');
  return { run: m.run, requests: rows.length, changed, moves, counts };
}

/** Re-derives the truth of every run of a corpus, in run order, logging one line per run. */
export async function retruthCorpus(corpusDir: string, log: (m: string) => void = () => {}, rules: TruthRules = TRUTH_RULES): Promise<RetruthResult[]> {
  const dirs = listRuns(corpusDir);
  const out: RetruthResult[] = [];
  for (const [i, d] of dirs.entries()) {
    const r = await retruthRun(d, rules);
    out.push(r);
    const moves = Object.entries(r.moves).map(([k, n]) => `${k} ${n}`).join(', ');
    log(`${i + 1}/${dirs.length} ${r.run}: ${r.requests} requests, ${r.changed} changed${moves ? ` (${moves})` : ''}`);
  }
  writeSplits(corpusDir);
  return out;
}

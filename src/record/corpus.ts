/**
 * The recorded corpus on disk: one folder per run, `<corpus>/<run>/`, with
 *   - audit.jsonl.br  the run's audit events as the apiserver logged them (RequestResponse),
 *   - truth.jsonl.br  one line per auditID: {auditID, action: "<run>/<step>" | null, tier, user},
 *   - manifest.json   Kubernetes version, policy, scenario, seed, split, counts, steps.
 * JSONL files are brotli-compressed (quality 11, 16 MB window: about a third of gzip -9 on
 * audit events); readers also take `.gz` (earlier recordings, other tools).
 * Other audit levels are rendered at load time from the RequestResponse events with the shared
 * policy model (src/k8s/audit-policy.ts), so every level has the same events and ground truth.
 */
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { brotliCompressSync, constants, createBrotliDecompress, createGunzip, gunzipSync } from 'node:zlib';
import type { AuditEvent } from '../types/audit.ts';
import { applyPolicy, POLICIES, type Policy } from '../k8s/audit-policy.ts';
import type { StepRecord } from './runner.ts';
import { eventTime, truthCounts, type TruthRow } from './truth.ts';

export interface RunWindow { run: string; scenario: string; seed: number; overlap: boolean; start: string; end: string; steps: StepRecord[] }

/**
 * Time-contiguous split by run: the runs recorded first (r01 up to TRAIN_LAST_RUN) are for
 * training and tuning, every run recorded after them is held out for evaluation.
 */
export type Split = 'train' | 'test';
export const SPLITS: readonly (Split | 'all')[] = ['train', 'test', 'all'];
export const TRAIN_LAST_RUN = 58;

/** The split of a run id ("r07-batch" → train); unnumbered runs are test runs. */
export function splitOf(run: string): Split {
  const m = /^r(\d+)/.exec(run);
  return m && Number(m[1]) <= TRAIN_LAST_RUN ? 'train' : 'test';
}

export interface RunManifest {
  run: string;
  /** train: r01–r58, recorded first; test: every later run */
  split: Split;
  /** who acted as the kubelets: one kwok per node with its node identity, or one kwok for all */
  kubelets: 'per-node' | 'shared';
  kubernetesVersion: string;
  versions: Record<string, string>;
  /** the policy the apiserver recorded with */
  policy: 'request-response';
  /** policies the loader renders the events at */
  renderedPolicies: string[];
  scenario: string;
  seed: number;
  overlap: boolean;
  nodes: number;
  start: string;
  end: string;
  counts: { events: number; requests: number; own: number; cascade: number; discovery: number; background: number; steps: number };
  steps: StepRecord[];
}

/**
 * Splits the recording into runs: an event caused by a run's step belongs to that run; other
 * events to the run whose window they fall in. Events before the first run (cluster setup) and
 * after the last are dropped; setup steps' late cascades inside a run count as background there.
 */
export function assignRuns(events: readonly AuditEvent[], truth: Map<string, TruthRow>, windows: readonly RunWindow[]): Map<string, AuditEvent[]> {
  const out = new Map<string, AuditEvent[]>(windows.map((w) => [w.run, []]));
  const starts = windows.map((w) => Date.parse(w.start));
  const lastEnd = windows.length ? Date.parse(windows[windows.length - 1]!.end) : 0;
  for (const e of events) {
    const row = truth.get(e.auditID);
    const run = row?.action?.split('/')[0];
    if (run && out.has(run)) { out.get(run)!.push(e); continue; }
    const t = eventTime(e);
    if (!starts.length || t < starts[0]! || t > lastEnd) continue;
    let i = 0;
    while (i + 1 < starts.length && starts[i + 1]! <= t) i++;
    out.get(windows[i]!.run)!.push(e);
  }
  return out;
}

/** Compression of the corpus' JSONL files. */
export const CORPUS_EXT = '.br';

function compress(raw: Buffer): Buffer {
  return brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length } });
}

function jsonl(rows: Iterable<unknown>): Buffer {
  const parts: string[] = [];
  for (const r of rows) parts.push(JSON.stringify(r));
  return compress(Buffer.from(parts.join('\n') + (parts.length ? '\n' : '')));
}

/** `<dir>/<base>.jsonl.br`, or `.jsonl.gz` when only that exists. */
export function runFile(dir: string, base: 'audit' | 'truth'): string {
  const br = path.join(dir, `${base}.jsonl${CORPUS_EXT}`);
  const gz = path.join(dir, `${base}.jsonl.gz`);
  return existsSync(br) || !existsSync(gz) ? br : gz;
}

/** Rewrites a run's `.jsonl.gz` files as `.jsonl.br` (same lines); returns the bytes before and after. */
export function recompressRun(dir: string): { before: number; after: number } {
  let before = 0; let after = 0;
  for (const base of ['audit', 'truth'] as const) {
    const gz = path.join(dir, `${base}.jsonl.gz`);
    const br = path.join(dir, `${base}.jsonl${CORPUS_EXT}`);
    if (!existsSync(gz)) { if (existsSync(br)) { const n = readFileSync(br).length; before += n; after += n; } continue; }
    const packed = readFileSync(gz);
    const out = compress(gunzipSync(packed));
    writeFileSync(br, out);
    rmSync(gz);
    before += packed.length; after += out.length;
  }
  return { before, after };
}

/** Truth rows of one run; actions of steps outside it (cluster setup) become background. */
export function runTruth(run: string, events: readonly AuditEvent[], truth: Map<string, TruthRow>): TruthRow[] {
  const seen = new Set<string>();
  const rows: TruthRow[] = [];
  for (const e of events) {
    if (seen.has(e.auditID)) continue;
    seen.add(e.auditID);
    const r = truth.get(e.auditID) ?? { auditID: e.auditID, action: null, tier: 'background' as const, user: e.user?.username ?? '' };
    rows.push(r.action && !r.action.startsWith(`${run}/`) ? { auditID: r.auditID, action: null, tier: 'background', user: e.user?.username ?? '' } : r);
  }
  return rows;
}

/** Writes a run's truth rows (`truth.jsonl.br`, replacing a `.gz`) and returns their counts per tier. */
export function writeTruthRows(dir: string, rows: readonly TruthRow[]): ReturnType<typeof truthCounts> {
  rmSync(path.join(dir, 'truth.jsonl.gz'), { force: true });
  writeFileSync(path.join(dir, `truth.jsonl${CORPUS_EXT}`), jsonl(rows));
  return truthCounts(rows);
}

export async function writeRun(dir: string, w: RunWindow, events: readonly AuditEvent[], truth: Map<string, TruthRow>, meta: { kubernetesVersion: string; versions: Record<string, string>; nodes: number; kubelets?: 'per-node' | 'shared' }): Promise<RunManifest> {
  mkdirSync(dir, { recursive: true });
  const rows = runTruth(w.run, events, truth);
  const c = truthCounts(rows);
  const manifest: RunManifest = {
    run: w.run, split: splitOf(w.run), kubelets: meta.kubelets ?? 'shared', kubernetesVersion: meta.kubernetesVersion, versions: meta.versions, policy: 'request-response',
    renderedPolicies: Object.keys(POLICIES), scenario: w.scenario, seed: w.seed, overlap: w.overlap, nodes: meta.nodes,
    start: w.start, end: w.end,
    counts: { events: events.length, requests: rows.length, ...c, steps: w.steps.length },
    steps: w.steps,
  };
  rmSync(path.join(dir, 'audit.jsonl.gz'), { force: true });
  writeFileSync(path.join(dir, `audit.jsonl${CORPUS_EXT}`), jsonl(events));
  writeTruthRows(dir, rows);
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

async function* readJsonl<T>(file: string): AsyncGenerator<T> {
  const rl = readline.createInterface({ input: createReadStream(file).pipe(file.endsWith('.gz') ? createGunzip() : createBrotliDecompress()), crlfDelay: Infinity });
  for await (const line of rl) if (line.trim()) yield JSON.parse(line) as T;
}

export interface LoadedRun { dir: string; manifest: RunManifest; events: AuditEvent[]; truth: Map<string, TruthRow> }

/** Orders run names by their number (r9 before r10 before r100), then by name. */
export function compareRuns(a: string, b: string): number {
  const n = (s: string) => Number(/^r(\d+)/.exec(path.basename(s))?.[1] ?? Infinity);
  return n(a) - n(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** The run folders of a corpus (those with a manifest.json), in run order. */
export function listRuns(corpusDir: string): string[] {
  if (!existsSync(corpusDir)) return [];
  return readdirSync(corpusDir).filter((d) => existsSync(path.join(corpusDir, d, 'manifest.json'))).sort(compareRuns).map((d) => path.join(corpusDir, d));
}

/**
 * One run, rendered under `policy` (default: as recorded). Events a policy logs at None are
 * dropped; their truth rows stay (an evaluator ignores auditIDs it never sees).
 */
export async function loadRun(dir: string, policy?: Policy): Promise<LoadedRun> {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as RunManifest;
  const events: AuditEvent[] = [];
  for await (const e of readJsonl<AuditEvent>(runFile(dir, 'audit'))) {
    const r = policy ? applyPolicy(policy, e) : e;
    if (r) events.push(r);
  }
  const truth = new Map<string, TruthRow>();
  for await (const t of readJsonl<TruthRow>(runFile(dir, 'truth'))) truth.set(t.auditID, t);
  return { dir, manifest, events, truth };
}

export interface SplitsFile {
  rule: string;
  trainLastRun: number;
  train: string[];
  test: string[];
  events: { train: number; test: number };
}

/** Writes `<corpus>/splits.json`: which runs are train and which test, from their manifests. */
export function writeSplits(corpusDir: string): SplitsFile {
  const out: SplitsFile = {
    rule: `time-contiguous by run: r01-r${TRAIN_LAST_RUN} (recorded first) train, every later run test`,
    trainLastRun: TRAIN_LAST_RUN, train: [], test: [], events: { train: 0, test: 0 },
  };
  for (const d of listRuns(corpusDir)) {
    const m = JSON.parse(readFileSync(path.join(d, 'manifest.json'), 'utf8')) as RunManifest;
    const split = m.split ?? splitOf(m.run);
    out[split].push(m.run);
    out.events[split] += m.counts?.events ?? 0;
  }
  writeFileSync(path.join(corpusDir, 'splits.json'), JSON.stringify(out, null, 1) + '\n');
  return out;
}

/** Whether a run of `split` is selected by `want` (all selects every run). */
export function inSplit(split: Split, want: Split | 'all'): boolean {
  return want === 'all' || split === want;
}

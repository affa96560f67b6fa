/**
 * Evaluation corpora on disk, and the cases (corpus × variant × audit level) scored on them:
 * - hkerma (`strict.jsonl.gz`, `enriched.jsonl.gz`, `truth.jsonl.gz`): a Metadata-level
 *   capture, scored as it is, one case per variant;
 * - recorded (`<dir>/<run>/{manifest.json, audit*.jsonl[.gz|.br], truth.jsonl[.gz|.br]}`, or one such
 *   run directory): rendered at every level the recording allows (a RequestResponse recording
 *   at Metadata, Request, RequestResponse and the mixed named policies) with the audit-policy
 *   renderer; events a policy drops leave the truth too. Only the runs of the chosen split are
 *   scored: by default the test split (runs whose manifest says `"split": "train"` are what
 *   kontext trains and tunes on; a run without a split counts as test), or the runs a selection (`--runs`) names, of any split.
 * - the simulator: any seed and duration, at every named policy.
 * Cases are lazy: a case reads its log (from disk, through the policy) only when it is
 * evaluated, one run at a time, so memory does not grow with the corpus. Runs recorded side by
 * side on several clusters are separate streams (see `recordingStreams`).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { AuditEvent, AuditLevel } from '../types/audit.ts';
import { applyPolicy, levelLess, POLICIES } from '../k8s/audit-policy.ts';
import { compareRuns } from '../record/corpus.ts';
import { hkermaTruth, readJsonl, recordedTruth, restrictTruth, simulatorTruth, type HkermaTruthLine, type RecordedTruthLine, type TruthSet } from './truth.ts';

/** One source's records in log order: what one pipeline (normalize → label → cluster) is fed. */
export interface RecordStream {
  name: string;
  /** the records, read afresh on each call (from disk for a corpus) */
  records(): Iterable<unknown> | AsyncIterable<unknown>;
}

export interface EvalCase {
  corpus: string;
  variant: string;
  /** audit level or policy name the events are logged at */
  level: string;
  /**
   * The case's log as independent streams, each scored through its own pipeline: recordings
   * made side by side on several clusters are separate streams, as they would reach kontext
   * from separate clusters. Read lazily, so no case holds its log in memory before (or after)
   * it is evaluated.
   */
  streams: RecordStream[];
  /** records in all streams, when known before reading them (progress) */
  size?: number;
  /** the ground truth of the events the streams yield (events a policy drops are not in it) */
  truth(): Promise<TruthSet>;
  /** truth labels exist (label macro-F1 is scored) */
  labelled: boolean;
}

export type CorpusKind = 'hkerma' | 'recorded';

/** Level columns and the policies that produce them, least to most logged, then the mixed ones. */
export const LEVEL_POLICIES: readonly { level: string; policy: string; needs: AuditLevel }[] = [
  { level: 'Metadata', policy: 'metadata', needs: 'Metadata' },
  { level: 'Request', policy: 'request', needs: 'Request' },
  { level: 'RequestResponse', policy: 'request-response', needs: 'RequestResponse' },
  { level: 'kubeadm-gke-default', policy: 'kubeadm-gke-default', needs: 'RequestResponse' },
  { level: 'k8s-docs-example', policy: 'k8s-docs-example', needs: 'RequestResponse' },
];

/** The corpus format of `dir`: undefined when absent; throws when present but not a corpus. */
export function detectCorpus(dir: string): CorpusKind | undefined {
  if (!existsSync(dir)) return undefined;
  if (!statSync(dir).isDirectory()) throw new Error(`${dir}: not a directory`);
  const has = (f: string) => existsSync(path.join(dir, f));
  if (has('truth.jsonl.gz') && (has('strict.jsonl.gz') || has('enriched.jsonl.gz'))) return 'hkerma';
  if (has('manifest.json') || recordedRuns(dir).length) return 'recorded';
  throw new Error(`${dir}: neither an hkerma capture (truth.jsonl.gz with strict/enriched.jsonl.gz) nor a recorded corpus (<run>/manifest.json)`);
}

async function readAll(file: string): Promise<any[]> {
  const out: any[] = [];
  for await (const v of readJsonl(file)) out.push(v);
  return out;
}

/** hkerma cases: one per variant present, at Metadata (the capture's level); records stream from disk. */
export async function hkermaCases(dir: string, log: (m: string) => void = () => {}): Promise<EvalCase[]> {
  const truth = hkermaTruth((await readAll(path.join(dir, 'truth.jsonl.gz'))) as HkermaTruthLine[]);
  const out: EvalCase[] = [];
  for (const variant of ['strict', 'enriched']) {
    const f = path.join(dir, `${variant}.jsonl.gz`);
    if (!existsSync(f)) continue;
    log(`hkerma ${variant}: ${truth.events.size} events with truth, ${truth.actions.size} actions`);
    out.push({ corpus: 'hkerma', variant, level: 'Metadata', streams: [{ name: variant, records: () => readJsonl(f) }], truth: async () => truth, labelled: false });
  }
  return out;
}

/** Run directories of a recorded corpus (or the directory itself when it is one run). */
export function recordedRuns(dir: string): string[] {
  if (existsSync(path.join(dir, 'manifest.json'))) return [dir];
  return readdirSync(dir).map((d) => path.join(dir, d)).filter((d) => statSync(d).isDirectory() && existsSync(path.join(d, 'manifest.json'))).sort(compareRuns);
}

const AUDIT_FILE = /^audit.*\.(jsonl|json|log)(\.gz|\.br)?$/;

/** A recorded run as evaluation needs it before reading its events: where they are, its truth. */
interface RecordedRun {
  name: string;
  files: string[];
  truth: TruthSet;
  level: AuditLevel;
  /** the run's time span (manifest), epoch ms, when the manifest has it */
  start?: number;
  end?: number;
}

/** Which runs of a recorded corpus are scored. */
export type SplitChoice = 'train' | 'test' | 'all';


/**
 * Which recorded runs to score: `"r01-r58"` (an inclusive range of run numbers, the number
 * after the leading "r" of the run name), `"r59-"` (from a run on), `"r07"` (one run), or a
 * comma-separated list of those. A selection scores training runs too.
 */
export function parseRunSelection(spec: string): (run: string) => boolean {
  const parts = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (!parts.length) throw new Error(`run selection ${JSON.stringify(spec)}: empty`);
  const ranges = parts.map((p) => {
    const m = /^r?(\d+)(?:(-)r?(\d+)?)?$/i.exec(p);
    if (!m) throw new Error(`run selection ${JSON.stringify(p)}: expected rNN, rNN-rMM or rNN-`);
    const from = Number(m[1]); const to = m[2] ? (m[3] !== undefined ? Number(m[3]) : Infinity) : from;
    if (to < from) throw new Error(`run selection ${JSON.stringify(p)}: range ends before it starts`);
    return [from, to] as const;
  });
  return (run) => {
    const n = /^r(\d+)/i.exec(path.basename(run))?.[1];
    return n !== undefined && ranges.some(([a, b]) => Number(n) >= a && Number(n) <= b);
  };
}

const POLICY_LEVEL: Record<string, AuditLevel> = { metadata: 'Metadata', request: 'Request', 'request-response': 'RequestResponse' };

/** A run's audit records, streamed from its files (an EventList line is its items). */
async function* runRecords(files: readonly string[]): AsyncGenerator<AuditEvent> {
  for (const f of files) for await (const r of readJsonl(f)) {
    if (r?.kind === 'EventList' && Array.isArray(r.items)) yield* r.items; else yield r;
  }
}

async function loadRun(runDir: string, split: SplitChoice = 'test', select?: (run: string) => boolean): Promise<RecordedRun | undefined> {
  const manifest = JSON.parse(readFileSync(path.join(runDir, 'manifest.json'), 'utf8')) as Record<string, any>;
  const runSplit = manifest.split === 'train' ? 'train' : 'test';
  if (split !== 'all' && runSplit !== split) return undefined;
  const name = String(manifest.run ?? manifest.name ?? path.basename(runDir));
  if (select && !select(name)) return undefined;
  const files = readdirSync(runDir).filter((f) => AUDIT_FILE.test(f)).sort().map((f) => path.join(runDir, f));
  if (!files.length) throw new Error(`${runDir}: no audit*.jsonl[.gz|.br] file`);
  // helm installs among the steps: {steps: [{id, command, release}]} (a step without a command counts as an install)
  const releases = new Map<string, string>();
  for (const s of Array.isArray(manifest.steps) ? manifest.steps : []) {
    const step = s?.id ?? s?.name ?? s?.step;
    const cmd = typeof s?.command === 'string' ? s.command : 'helm install';
    const install = /\bhelm\b.*\b(install|upgrade\b.*(--install|-i\b))/.test(cmd) && !/\buninstall\b/.test(cmd);
    if (step !== undefined && typeof s.release === 'string' && install) releases.set(`${name}/${step}`, s.release);
  }
  const truthFile = ['truth.jsonl.br', 'truth.jsonl.gz'].map((f) => path.join(runDir, f)).find((f) => existsSync(f)) ?? path.join(runDir, 'truth.jsonl.gz');
  const truth = recordedTruth((await readAll(truthFile)) as RecordedTruthLine[], releases);
  // the level the run was logged at: the manifest's, or its policy's, else the highest in its events
  let level = typeof manifest.level === 'string' && ['Metadata', 'Request', 'RequestResponse'].includes(manifest.level)
    ? manifest.level as AuditLevel : POLICY_LEVEL[String(manifest.policy)];
  if (!level) {
    level = 'Metadata';
    for await (const r of runRecords(files)) if (r?.level && levelLess(level, r.level)) level = r.level;
  }
  const time = (v: unknown) => (typeof v === 'string' && Number.isFinite(Date.parse(v)) ? { ms: Date.parse(v) } : undefined);
  const start = time(manifest.start); const end = time(manifest.end);
  return { name, files, truth, level, ...(start ? { start: start.ms } : {}), ...(end ? { end: end.ms } : {}) };
}

/**
 * Runs in run order, cut into the streams a kontext would have seen: a run that starts before
 * the previous one ended was recorded on another cluster at the same time, so it starts a new
 * stream (one cluster's runs follow each other in time; runs without times stay in one stream).
 */
export function recordingStreams<R extends { start?: number; end?: number }>(runs: readonly R[]): R[][] {
  const out: R[][] = [];
  let prevEnd: number | undefined;
  for (const r of runs) {
    const cur = out[out.length - 1];
    if (!cur || (r.start !== undefined && prevEnd !== undefined && r.start < prevEnd)) out.push([r]); else cur.push(r);
    if (r.end !== undefined) prevEnd = r.end;
  }
  return out;
}

/**
 * Recorded cases: every run left out of training, rendered at each level its recording
 * allows (actions are named "<run>/<step>"). Nothing but the runs' truth is read up front: each
 * case streams its runs from disk through the policy when it is evaluated, and collects which
 * events the policy kept for its truth.
 */
export async function recordedCases(dir: string, log: (m: string) => void = () => {}, split: SplitChoice = 'test', select?: (run: string) => boolean): Promise<EvalCase[]> {
  const runs: RecordedRun[] = [];
  for (const d of recordedRuns(dir)) {
    const r = await loadRun(d, split, select);
    if (r) { runs.push(r); log(`recorded run ${r.name}: ${r.truth.events.size} requests at ${r.level}, ${r.truth.actions.size} actions`); }
  }
  if (!runs.length) return [];
  const out: EvalCase[] = [];
  for (const lp of LEVEL_POLICIES) {
    const usable = runs.filter((r) => !levelLess(r.level, lp.needs));
    if (!usable.length) continue;
    const policy = POLICIES[lp.policy]!;
    // auditIDs the policy kept, per run, filled while the streams are read
    const kept = new Map<RecordedRun, Set<string>>();
    const stream = (group: RecordedRun[]): RecordStream => ({
      name: group.length === 1 ? group[0]!.name : `${group[0]!.name}…${group[group.length - 1]!.name}`,
      records: async function* () {
        for (const r of group) {
          const ids = new Set<string>();
          for await (const e of runRecords(r.files)) {
            const x = applyPolicy(policy, e);
            if (x) { ids.add(x.auditID); yield x; }
          }
          kept.set(r, ids);
        }
      },
    });
    const streams = recordingStreams(usable).map(stream);
    const truth = async (): Promise<TruthSet> => {
      const events = new Map(); const actions = new Map();
      for (const r of usable) {
        if (!kept.has(r)) for await (const _ of stream([r]).records()) { /* reads the run for what the policy keeps */ }
        const t = restrictTruth(r.truth, kept.get(r)!);
        for (const [k, v] of t.events) events.set(k, v);
        for (const [k, v] of t.actions) actions.set(k, v);
      }
      return { events, actions };
    };
    out.push({ corpus: 'recorded', variant: usable.length === runs.length ? `${runs.length} runs` : `${usable.length}/${runs.length} runs`, level: lp.level, streams, truth, labelled: false });
  }
  return out;
}

/** Simulator cases: the same traffic (seed, duration) logged under each named policy, simulated when evaluated. */
export async function simulatorCases(opts: { seed: number; durationMs: number; levels?: readonly string[] }, log: (m: string) => void = () => {}): Promise<EvalCase[]> {
  const { simulate } = await import('../simulate/index.ts');
  const out: EvalCase[] = [];
  for (const lp of LEVEL_POLICIES) {
    if (opts.levels && !opts.levels.includes(lp.level)) continue;
    const records = () => simulate({ seed: opts.seed, durationMs: opts.durationMs, policy: lp.policy });
    out.push({
      corpus: 'simulator', variant: `seed ${opts.seed}, ${Math.round(opts.durationMs / 60_000)} min`, level: lp.level, labelled: true,
      streams: [{ name: `seed ${opts.seed}`, records }],
      truth: async () => {
        const truth = simulatorTruth(records());
        log(`simulator seed ${opts.seed} at ${lp.level}: ${truth.events.size} events, ${truth.actions.size} actions`);
        return truth;
      },
    });
  }
  return out;
}

/** Cases of the corpus in `dir` (format auto-detected); undefined when `dir` does not exist. */
export async function corpusCases(dir: string, log: (m: string) => void = () => {}, opts: { split?: SplitChoice; runs?: string } = {}): Promise<EvalCase[] | undefined> {
  const kind = detectCorpus(dir);
  if (!kind) return undefined;
  if (opts.runs !== undefined && kind !== 'recorded') throw new Error(`${dir}: --runs applies to a recorded corpus only`);
  // a run selection names runs of any split unless a split is given too
  const split = opts.split ?? (opts.runs !== undefined ? 'all' : 'test');
  return kind === 'hkerma' ? hkermaCases(dir, log) : recordedCases(dir, log, split, opts.runs === undefined ? undefined : parseRunSelection(opts.runs));
}

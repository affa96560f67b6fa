/**
 * Runs a scenario's steps as real commands (the built kubectl and helm, each user with their own
 * kubeconfig and HOME), one command at a time per user, with quiet gaps or overlapping starts,
 * and records when each ran.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** One command of a scenario. */
export interface StepSpec {
  id: string;
  /** identity (a key of the kubeconfigs) */
  user: string;
  tool: 'kubectl' | 'helm' | 'pause';
  args: string[];
  /** wait this long after the previous step ended (or, with overlap, after it started) */
  gapMs?: number;
  /** start while the previous step still runs (a different user) */
  overlap?: boolean;
  /** the command is meant to fail (forbidden, not found, conflict, invalid) */
  expectFail?: boolean;
  stdin?: string;
}

/** A step as it ran: what the manifest stores. */
export interface StepRecord {
  id: string;
  /** the username the apiserver authenticates */
  user: string;
  command: string;
  start: string;
  end: string;
  exitCode: number;
  expectFail?: boolean;
  /** the helm release a helm step acts on */
  release?: string;
}

export interface RunContext {
  bin: { kubectl: string; helm: string };
  kubeconfigs: Record<string, string>;
  /** identity → apiserver username */
  usernames: Record<string, string>;
  homeDir: string;
  /** paths to shorten in recorded command lines */
  shorten: [string, string][];
  log: (m: string) => void;
  stepTimeoutMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function quote(a: string): string { return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`; }

function exec(ctx: RunContext, s: StepSpec): Promise<{ code: number; out: string }> {
  if (s.tool === 'pause') return sleep(Number(s.args[0] ?? 1000)).then(() => ({ code: 0, out: '' }));
  const home = path.join(ctx.homeDir, s.user.replace(/[^a-z0-9-]/gi, '_'));
  mkdirSync(home, { recursive: true });
  const kc = ctx.kubeconfigs[s.user];
  if (!kc) throw new Error(`step ${s.id}: no kubeconfig for ${s.user}`);
  return new Promise((resolve) => {
    const child = spawn(ctx.bin[s.tool as "kubectl" | "helm"], s.args, {
      env: { PATH: process.env.PATH, HOME: home, KUBECONFIG: kc, HELM_CACHE_HOME: path.join(home, '.cache/helm'), HELM_CONFIG_HOME: path.join(home, '.config/helm'), HELM_DATA_HOME: path.join(home, '.local/share/helm') },
      stdio: [s.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => { out = (out + d).slice(-2000); });
    child.stderr!.on('data', (d) => { out = (out + d).slice(-2000); });
    if (s.stdin) child.stdin!.end(s.stdin);
    const timer = setTimeout(() => child.kill('SIGKILL'), ctx.stepTimeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code: code ?? 137, out }); });
    child.on('error', (e) => { clearTimeout(timer); resolve({ code: 127, out: String(e) }); });
  });
}

export function commandLine(ctx: Pick<RunContext, 'shorten'>, s: StepSpec): string {
  if (s.tool === 'pause') return `(pause ${s.args[0] ?? 1000}ms)`;
  let line = [s.tool, ...s.args.map(quote)].join(' ');
  for (const [from, to] of ctx.shorten) line = line.split(from).join(to);
  return line;
}

/**
 * Runs the steps. A step starts `gapMs` after the previous one ended, or with `overlap` after the
 * previous one started; either way only once its user's previous command has finished.
 */
export async function runSteps(ctx: RunContext, steps: readonly StepSpec[]): Promise<StepRecord[]> {
  const records: StepRecord[] = [];
  const busy = new Map<string, Promise<void>>();
  const all: Promise<void>[] = [];
  let prevStarted = Promise.resolve();
  let prevEnded: Promise<void> = Promise.resolve();
  for (const s of steps) {
    const gate = s.overlap ? prevStarted : prevEnded;
    let markStarted!: () => void;
    const started = new Promise<void>((r) => { markStarted = r; });
    const lane = busy.get(s.user) ?? Promise.resolve();
    const done = (async () => {
      await gate;
      await sleep(s.gapMs ?? 0);
      await lane;
      const t0 = new Date();
      markStarted();
      const r = await exec(ctx, s);
      const t1 = new Date();
      const rec: StepRecord = { id: s.id, user: s.tool === 'pause' ? '' : (ctx.usernames[s.user] ?? s.user), command: commandLine(ctx, s), start: t0.toISOString(), end: t1.toISOString(), exitCode: r.code };
      if (s.expectFail) rec.expectFail = true;
      if (s.tool === 'helm' && ['install', 'upgrade', 'rollback', 'uninstall', 'history', 'status'].includes(s.args[0] ?? '') && s.args[1]) rec.release = s.args[1];
      if (s.tool !== 'pause') records.push(rec);
      const bad = s.expectFail ? r.code === 0 : r.code !== 0;
      ctx.log(`  ${s.id} ${rec.command.slice(0, 110)} → ${r.code}${bad ? ` (unexpected: ${r.out.trim().split('\n').slice(-2).join(' | ').slice(0, 300)})` : ''}`);
    })();
    busy.set(s.user, done);
    all.push(done);
    prevStarted = started;
    prevEnded = done;
  }
  await Promise.all(all);
  return records.sort((a, b) => a.start.localeCompare(b.start));
}

export function writeFileIn(dir: string, name: string, text: string): string {
  mkdirSync(dir, { recursive: true });
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

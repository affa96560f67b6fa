/**
 * `kontext simulate`: realistic, labeled audit events to stdout, a JSONL(.gz) file or a
 * forward endpoint (as Fluent Bit sends them).
 */
import { flagNumber, flagString, UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { ConfigError, parseDuration } from '../../config/config.ts';
import { SCENARIO_INFO, SCENARIOS, simulate, resolveOptions, type SimulateOptions } from '../../simulate/index.ts';
import { writeJsonl } from '../../simulate/sinks.ts';
import { ForwardSink, parseHostPort } from '../../simulate/forward-sink.ts';
import { parseMicro } from '../../simulate/time.ts';
import { Progress } from '../../util/progress.ts';
import { POLICY_NAMES } from '../../k8s/audit-policy.ts';

export function parseMix(s: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const m = /^([a-z0-9-]+)(?:=(.+))?$/.exec(part);
    if (!m) throw new UsageError(`--mix: expected scenario=weight, got ${JSON.stringify(part)}`);
    const name = m[1]!;
    if (!SCENARIOS.includes(name)) throw new UsageError(`--mix: unknown scenario ${JSON.stringify(name)}; known: ${SCENARIOS.join(', ')}`);
    const w = m[2] === undefined ? 1 : Number(m[2]);
    if (!Number.isFinite(w) || w < 0) throw new UsageError(`--mix: weight of ${name} must be a number >= 0, got ${JSON.stringify(m[2])}`);
    out[name] = w;
  }
  if (!Object.keys(out).length) throw new UsageError('--mix: no scenarios given');
  if (!Object.values(out).some((w) => w > 0)) throw new UsageError('--mix: every weight is 0');
  return out;
}

function parseStart(s: string): number {
  const n = Number(s);
  if (Number.isFinite(n) && /^\d+$/.test(s)) return n;
  const t = Date.parse(s);
  if (!Number.isFinite(t)) throw new UsageError(`--start: expected an RFC3339 time or epoch milliseconds, got ${JSON.stringify(s)}`);
  return t;
}

function listScenarios(): string {
  const w = Math.max(...SCENARIO_INFO.map((s) => s.name.length));
  const lines = ['Scenarios (name, default weight, trigger label, what happens):', ''];
  for (const s of SCENARIO_INFO) lines.push(`  ${s.name.padEnd(w)}  ${String(s.weight).padStart(4)}  ${s.trigger}\n  ${''.padEnd(w)}        ${s.summary}`);
  lines.push('', 'Background (label "background <kind>", context "bg:<kind>:<username>"): lease, node-status, discovery, watch, token, events, controller, other.');
  return lines.join('\n');
}

export const command: Command = {
  name: 'simulate',
  summary: 'Generate realistic labeled Kubernetes audit logs.',
  usage: '[options]',
  description: [
    'Writes audit.k8s.io/v1 Event records in log order: users acting concurrently',
    '(kubectl, helm), the control-plane cascades their actions cause, and background traffic. Every record',
    'carries its ground truth in annotations sim.kontext.io/label and sim.kontext.io/context.',
    'Same --seed and options give byte-identical output; --policy / --audit-level change only what is',
    'logged of the same traffic (levels as the kube-apiserver applies an audit.k8s.io/v1 Policy).',
    '',
    'Examples:',
    '  kontext simulate --duration 1h --out audit.jsonl.gz',
    '  kontext simulate --mix deployment-create=5,helm-install=1 --rate 60 --forward 127.0.0.1:24224',
    '  kontext simulate --audit-level Metadata --out metadata.jsonl.gz',
    '  kontext simulate --policy kubeadm-gke-default --out gke.jsonl.gz',
    '  kontext simulate --list',
  ].join('\n'),
  flags: [
    { flag: 'seed', help: 'Random seed (integer)', default: '1' },
    { flag: 'start', help: 'Time of the first event (RFC3339 or epoch ms)', default: '2026-01-01T00:00:00Z' },
    { flag: 'duration', help: 'Simulated time span (e.g. 30s, 10m, 2h)', default: '10m' },
    { flag: 'rate', help: 'User actions started per minute, across all users', default: '30' },
    { flag: 'users', help: 'Users acting concurrently (people and a CI account)', default: '5' },
    { flag: 'nodes', help: 'Worker nodes', default: '3' },
    { flag: 'background-share', help: 'Share of raw events that are background traffic, 0 to 0.95', default: '0.6' },
    { flag: 'mix', help: 'Scenario weights, e.g. deployment-create=5,pod-exec=1 (replaces the defaults; see --list)' },
    { flag: 'policy', help: `Audit policy the records are logged under: ${POLICY_NAMES.join(', ')} (default: the simulator's own levels)` },
    { flag: 'audit-level', help: 'Log every request at one level: Metadata, Request or RequestResponse (same as --policy metadata|request|request-response)' },
    { flag: 'stages', help: 'final: one record per request; all: also RequestReceived/ResponseStarted', default: 'final' },
    { flag: 'out', help: 'Output file (JSONL; a .gz suffix writes gzip). Default: stdout' },
    { flag: 'forward', help: 'Send to a Fluentd forward endpoint HOST:PORT (PackedForward, acked chunks) instead' },
    { flag: 'shared-key', help: 'Forward shared key (HELO/PING/PONG handshake)' },
    { flag: 'username', help: 'Forward user name (with --shared-key, when the server requires user auth)' },
    { flag: 'password', help: 'Forward password' },
    { flag: 'tag', help: 'Forward tag', default: 'kube.audit' },
    { flag: 'list', help: 'List the scenarios and exit', boolean: true },
    { flag: 'quiet', help: 'No progress bar', boolean: true },
  ],
  usesConfig: false,
  async run(args) {
    const f = args.flags;
    if (args.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
    if (f.list) { process.stdout.write(listScenarios() + '\n'); return 0; }
    let durationMs: number;
    try { durationMs = parseDuration(flagString(f, 'duration') ?? '10m'); } catch (e) { throw new UsageError(`--duration: ${(e as ConfigError).message}`); }
    const stages = flagString(f, 'stages') ?? 'final';
    if (stages !== 'final' && stages !== 'all') throw new UsageError(`--stages: must be "final" or "all", got ${JSON.stringify(stages)}`);
    const share = flagNumber(f, 'background-share', 0.6, { min: 0 });
    if (share > 0.95) throw new UsageError(`--background-share: must be <= 0.95, got ${share}`);
    const startFlag = flagString(f, 'start');
    const opts: SimulateOptions = {
      seed: flagNumber(f, 'seed', 1, { int: true }),
      start: startFlag ? parseStart(startFlag) : undefined,
      durationMs,
      actionsPerMinute: flagNumber(f, 'rate', 30, { min: 0 }),
      users: flagNumber(f, 'users', 5, { int: true, min: 1 }),
      nodes: flagNumber(f, 'nodes', 3, { int: true, min: 1 }),
      backgroundShare: share,
      stages,
    };
    const mix = flagString(f, 'mix');
    if (mix) opts.mix = parseMix(mix);
    const policy = flagString(f, 'policy');
    const level = flagString(f, 'audit-level');
    if (policy && level) throw new UsageError('--policy and --audit-level are exclusive');
    if (level && !['metadata', 'request', 'requestresponse'].includes(level.toLowerCase().replace(/[-_]/g, ''))) throw new UsageError(`--audit-level: must be Metadata, Request or RequestResponse, got ${JSON.stringify(level)}`);
    if (policy ?? level) opts.policy = policy ?? level;
    try { resolveOptions(opts); } catch (e) { throw new UsageError((e as Error).message.replace(/^simulate: /, '')); }
    const out = flagString(f, 'out');
    const forward = flagString(f, 'forward');
    if (out && forward) throw new UsageError('--out and --forward are exclusive');
    for (const k of ['shared-key', 'username', 'password', 'tag']) if (f[k] !== undefined && !forward) throw new UsageError(`--${k} needs --forward`);

    const events = simulate(opts);
    const showProgress = (out || forward) && !f.quiet;
    const startUs = (opts.start ?? Date.UTC(2026, 0, 1)) * 1000;
    const progress = showProgress ? new Progress({ label: 'simulate', total: Math.round(durationMs / 1000), unit: 'sim-s' }) : undefined;
    const report = (n: number, bytes: number, last: { stageTimestamp: string }) => {
      progress?.update(Math.min(durationMs / 1000, Math.max(0, Math.round((parseMicro(last.stageTimestamp) - startUs) / 1e6))), `${n} events ${(bytes / 1048576).toFixed(1)} MiB`);
    };
    if (forward) {
      let hp: { host: string; port: number };
      try { hp = parseHostPort(forward); } catch (e) { throw new UsageError(`--forward: ${(e as Error).message}`); }
      const sink = new ForwardSink({ ...hp, tag: flagString(f, 'tag'), sharedKey: flagString(f, 'shared-key'), username: flagString(f, 'username'), password: flagString(f, 'password'), onChunk: report });
      try {
        const r = await sink.write(events);
        progress?.finish(`${r.events} events in ${r.chunks} chunks`);
      } finally { sink.close(); }
      return 0;
    }
    if (out) {
      const r = await writeJsonl(events, out, report);
      progress?.finish(`${r.events} events ${(r.bytes / 1048576).toFixed(1)} MiB → ${out}`);
      return 0;
    }
    // stdout: a closed pipe (| head) ends the run quietly
    let closed = false;
    process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') closed = true; });
    try {
      await writeJsonl((function* () { for (const ev of events) { if (closed) return; yield ev; } })(), process.stdout);
    } catch (e) {
      if (!closed && (e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
    }
    return 0;
  },
};

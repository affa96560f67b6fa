/**
 * `kontext record`: record real audit logs from a real control plane on loopback, with ground
 * truth, into the corpus folder. `--check` only verifies the cached build.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { flagNumber, flagString, UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { parseDuration } from '../../config/config.ts';
import { binPath, buildAll, checkCache, VERSIONS, type Binary } from '../../record/build.ts';

export const command: Command = {
  name: 'record',
  summary: 'Record real audit logs (etcd, kube-apiserver, controllers, scheduler, kwok nodes; kubectl and helm) with ground truth.',
  usage: '[options]',
  description: [
    'Builds the Kubernetes components with the Go tools from the Go module proxy into the cache folder (once;',
    'tens of minutes), starts them on loopback with generated certificates and per-user tokens, runs the',
    'scenarios as real kubectl and helm commands, and writes per run the audit log (RequestResponse), a',
    'manifest and the ground truth into the corpus folder (brotli JSONL), and splits.json: runs r01-r58',
    'are the train split, every later run the test split. Kubelets are kwok processes, one per node with',
    'that node\'s identity (--kubelets per-node) or one for all nodes (shared). Needs go and openssl on PATH.',
    '',
    'Examples:',
    '  kontext record                       # build if needed, record the corpus into datasets/recorded',
    '  kontext record --build-only',
    '  kontext record --check               # verify the cached build (no Go, no cluster)',
    '  kontext record --runs 2 --scenarios helm-lifecycle,crd --out /tmp/corpus',
    '  kontext record --retruth             # rewrite datasets/recorded\'s truth after changing the rules',
    '  kontext record --first-run 164 --runs 12 --nodes 16 --out /tmp/more   # more test runs on another cluster',
  ].join('\n'),
  flags: [
    { flag: 'out', help: 'Corpus folder: one <run>/ folder per run; the runs of an earlier recording are replaced', default: 'datasets/recorded' },
    { flag: 'assets', help: 'Folder with the charts/ and manifests/ the scenarios use', default: 'datasets/recorded' },
    { flag: 'cache', help: 'Build and work folder', default: '.kontext/record' },
    { flag: 'runs', help: 'Scenario runs (scenarios in turn, then again with other seeds, overlapping)', default: '46' },
    { flag: 'scenarios', help: 'Comma-separated scenarios to cycle through (default: all; see --list)' },
    { flag: 'seed', help: 'Seed of run 1 (run i uses seed+i-1)', default: '1' },
    { flag: 'first-run', help: 'Number of the first run: continue a recording (on another cluster) without replacing its runs', default: '1' },
    { flag: 'nodes', help: 'kwok nodes', default: '10' },
    { flag: 'kubelets', help: 'Who acts as the kubelets: per-node (one kwok per node as system:node:<node>, Node authorizer and NodeRestriction apply) or shared (one kwok for all nodes as kwok-controller)', default: 'per-node' },
    { flag: 'settle', help: 'Quiet time after each run', default: '10s' },
    { flag: 'build-only', help: 'Build (or verify) the components and exit', boolean: true },
    { flag: 'check', help: 'Verify the cached build: binaries present, pinned versions; exit 1 when not', boolean: true },
    { flag: 'keep-work', help: 'Keep the etcd data of the recording', boolean: true },
    { flag: 'from-work', help: 'Rewrite the corpus from an earlier recording\'s work folder (.kontext/record/work/<time>) without recording' },
    { flag: 'recompress', help: 'Rewrite the runs of --out stored as .jsonl.gz as brotli .jsonl.br (the corpus format) and update splits.json, without recording', boolean: true },
    { flag: 'retruth', help: 'Rewrite the ground truth (truth.jsonl.br, manifest counts) of every run in --out from its stored events and steps with the current rules, without recording', boolean: true },
    { flag: 'list', help: 'List the scenarios and exit', boolean: true },
  ],
  usesConfig: false,
  async run(args) {
    const f = args.flags;
    if (args.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
    const cacheDir = path.resolve(flagString(f, 'cache') ?? '.kontext/record');
    const log = (m: string) => process.stderr.write(`record: ${m}\n`);
    if (f.list) {
      const { SCENARIOS } = await import('../../record/scenarios.ts');
      const w = Math.max(...SCENARIOS.map((s) => s.name.length));
      process.stdout.write(SCENARIOS.map((s) => `  ${s.name.padEnd(w)}  ${s.summary}`).join('\n') + '\n');
      return 0;
    }
    if (f.check) {
      const c = checkCache(cacheDir);
      if (!c.present.length) {
        process.stderr.write(`kontext record: no cached build in ${cacheDir}; \`kontext record --build-only\` builds it (needs go and the Go module proxy).\n`);
        return 1;
      }
      const versionArgs: Record<Binary, string[]> = {
        etcd: ['--version'], 'kube-apiserver': ['--version'], 'kube-controller-manager': ['--version'], 'kube-scheduler': ['--version'],
        kubectl: ['version', '--client'], helm: ['version', '--short'], kwok: ['--version'],
      };
      const want: Record<Binary, string> = {
        etcd: VERSIONS.etcd.slice(1), 'kube-apiserver': VERSIONS.kubernetes, 'kube-controller-manager': VERSIONS.kubernetes,
        'kube-scheduler': VERSIONS.kubernetes, kubectl: VERSIONS.kubernetes, helm: VERSIONS.helm, kwok: VERSIONS.kwok.slice(1),
      };
      const problems = [...c.problems];
      for (const b of c.present) {
        let out = '';
        try { out = execFileSync(binPath(cacheDir, b), versionArgs[b], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] }); } catch (e) { out = String((e as { stdout?: string }).stdout ?? ''); }
        if (!out.includes(want[b])) problems.push(`${b}: version output does not name ${want[b]}: ${JSON.stringify(out.trim().slice(0, 120))}`);
        else process.stdout.write(`ok ${b} ${want[b]}\n`);
      }
      if (problems.length) { process.stderr.write(`kontext record: cached build in ${cacheDir} is incomplete:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`); return 1; }
      process.stdout.write(`cached build in ${cacheDir} is complete\n`);
      return 0;
    }
    if (f.recompress) {
      const { listRuns, recompressRun, writeSplits } = await import('../../record/corpus.ts');
      const out = path.resolve(flagString(f, 'out') ?? 'datasets/recorded');
      let before = 0; let after = 0;
      for (const d of listRuns(out)) {
        const r = recompressRun(d);
        before += r.before; after += r.after;
        log(`${path.basename(d)}: ${(r.before / 1e6).toFixed(2)} MB → ${(r.after / 1e6).toFixed(2)} MB`);
      }
      const s = writeSplits(out);
      process.stdout.write(`${out}: ${(before / 1e6).toFixed(1)} MB → ${(after / 1e6).toFixed(1)} MB; ${s.train.length} train runs (${s.events.train} events), ${s.test.length} test runs (${s.events.test} events)\n`);
      return 0;
    }
    if (f.retruth) {
      const { retruthCorpus } = await import('../../record/retruth.ts');
      const out = path.resolve(flagString(f, 'out') ?? 'datasets/recorded');
      const rs = await retruthCorpus(out, log);
      if (!rs.length) { process.stderr.write(`kontext record: no runs in ${out}\n`); return 1; }
      const sum = (k: 'own' | 'cascade' | 'discovery' | 'background') => rs.reduce((n, r) => n + r.counts[k], 0);
      process.stdout.write(`${out}: ${rs.length} runs, ${rs.reduce((n, r) => n + r.changed, 0)} of ${rs.reduce((n, r) => n + r.requests, 0)} truth rows changed; own ${sum('own')}, cascade ${sum('cascade')}, discovery ${sum('discovery')}, background ${sum('background')}\n`);
      return 0;
    }
    if (f['build-only']) { await buildAll(cacheDir, log); return 0; }
    const fromWork = flagString(f, 'from-work');
    if (fromWork) {
      const { writeCorpus } = await import('../../record/record.ts');
      await writeCorpus(path.resolve(fromWork), path.resolve(flagString(f, 'out') ?? 'datasets/recorded'), flagNumber(f, 'first-run', 1, { int: true, min: 1 }) === 1, log);
      return 0;
    }
    const kubelets = flagString(f, 'kubelets') ?? 'per-node';
    if (kubelets !== 'per-node' && kubelets !== 'shared') throw new UsageError(`--kubelets: per-node or shared, got ${JSON.stringify(kubelets)}`);
    const settleMs = parseDuration(flagString(f, 'settle') ?? '10s');
    const { record } = await import('../../record/record.ts');
    const scenarios = flagString(f, 'scenarios')?.split(',').map((s) => s.trim()).filter(Boolean);
    if (scenarios) {
      const { SCENARIO_NAMES } = await import('../../record/scenarios.ts');
      const bad = scenarios.filter((s) => !SCENARIO_NAMES.includes(s));
      if (bad.length) throw new UsageError(`--scenarios: unknown ${bad.join(', ')}; known: ${SCENARIO_NAMES.join(', ')}`);
    }
    await record({
      cacheDir, outDir: path.resolve(flagString(f, 'out') ?? 'datasets/recorded'), assetsDir: path.resolve(flagString(f, 'assets') ?? 'datasets/recorded'),
      runs: flagNumber(f, 'runs', 46, { int: true, min: 1 }), firstRun: flagNumber(f, 'first-run', 1, { int: true, min: 1 }), seed: flagNumber(f, 'seed', 1, { int: true }),
      nodes: flagNumber(f, 'nodes', 10, { int: true, min: 1 }), kubelets, scenarios, settleMs, keepWork: Boolean(f['keep-work']), log,
    });
    return 0;
  },
};

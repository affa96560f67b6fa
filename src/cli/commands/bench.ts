import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../command.ts';
import { UsageError, flagString } from '../args.ts';
import type { BenchOptions, BenchResult } from '../../bench/types.ts';
import { met } from '../../bench/types.ts';
import { PROJECT_ROOT, startLocalEs, type LocalEs } from '../../es-local/local-es.ts';

/** Benchmarks by name; each module exports `run(opts): Promise<BenchResult>`. */
const BENCHES: Record<string, { needsEs: boolean; load: () => Promise<{ run: (o: BenchOptions) => Promise<BenchResult> }> }> = {
  'label-throughput': { needsEs: false, load: () => import('../../bench/label-throughput.ts') },
  contexts: { needsEs: false, load: () => import('../../bench/contexts.ts') },
  storage: { needsEs: true, load: () => import('../../bench/storage.ts') },
  'query-latency': { needsEs: true, load: () => import('../../bench/query-latency.ts') },
  reorder: { needsEs: false, load: () => import('../../bench/reorder.ts') },
  'backlog-memory': { needsEs: false, load: () => import('../../bench/backlog-memory.ts') },
  e2e: { needsEs: true, load: () => import('../../bench/e2e.ts') },
};

/** Simulator seeds by use; the bench and `kontext evaluate` never score on a training seed. */
export const SEEDS = 'training 1 (models/default); evaluation 7 (kontext evaluate, storage bench); tests 2, 3, 4, 5, 9, 11, 21, 42; bench 11 (label-throughput), 13 (contexts), 17 (e2e), 19 (scripts/context-memory.ts), 21 (backlog-memory; test/simulate-io.test.ts simulates it too, for I/O only)';

export function resultsMarkdown(results: BenchResult[], meta: Record<string, string>): string {
  const lines = ['# kontext benchmark results', ''];
  for (const [k, v] of Object.entries(meta)) lines.push(`- ${k}: ${v}`);
  for (const r of results) {
    lines.push('', `## ${r.name}`, '', r.description, '', '| metric | value | unit | target | met |', '|---|---|---|---|---|');
    for (const m of r.metrics) {
      const ok = met(m);
      const v = Number.isInteger(m.value) ? String(m.value) : m.value.toPrecision(4);
      lines.push(`| ${m.name} | ${v} | ${m.unit} | ${m.target ? `${m.target.op} ${m.target.value}` : ''} | ${ok === undefined ? '' : ok ? 'yes' : 'NO'} |`);
    }
    if (r.markdown) lines.push('', r.markdown);
  }
  return lines.join('\n') + '\n';
}

export const command: Command = {
  name: 'bench',
  summary: 'Run the benchmarks and write results to bench-results/.',
  usage: '[--only NAME,...] [--quick] [--out DIR]',
  description: `Benchmarks: ${Object.keys(BENCHES).join(', ')}. Those that need Elasticsearch use ELASTICSEARCH_URL,\n` +
    'or start a throw-away local one. Results go to <out>/results.json and <out>/results.md.',
  flags: [
    { flag: 'only', help: 'comma-separated benchmark names' },
    { flag: 'quick', help: 'small data sets (smoke run)', boolean: true },
    { flag: 'out', help: 'output directory', default: 'bench-results' },
  ],
  usesConfig: false,
  async run({ flags }) {
    const only = flagString(flags, 'only')?.split(',').map((s) => s.trim()).filter(Boolean);
    for (const n of only ?? []) if (!BENCHES[n]) throw new UsageError(`unknown benchmark ${JSON.stringify(n)}; known: ${Object.keys(BENCHES).join(', ')}`);
    const names = only ?? Object.keys(BENCHES);
    const quick = flags.quick === true;
    const outDir = path.resolve(flagString(flags, 'out') ?? path.join(PROJECT_ROOT, 'bench-results'));
    const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
    let es: LocalEs | undefined;
    if (names.some((n) => BENCHES[n]!.needsEs) && !process.env.ELASTICSEARCH_URL) {
      log('starting a local Elasticsearch for the benchmarks...');
      es = await startLocalEs({ dataName: `bench-${process.pid}`, fresh: true, heap: '2g', removeOnStop: true });
      process.env.ELASTICSEARCH_URL = es.url;
    }
    const results: BenchResult[] = [];
    let failed = 0;
    try {
      for (const name of names) {
        log(`running ${name}${quick ? ' (quick)' : ''}`);
        const t0 = Date.now();
        try {
          const mod = await BENCHES[name]!.load();
          const r = await mod.run({ quick, log: (m) => log(`${name}: ${m}`) });
          r.details = { ...r.details, wallSeconds: (Date.now() - t0) / 1000 };
          results.push(r);
          for (const m of r.metrics) log(`${name}: ${m.name} = ${m.value} ${m.unit}${m.target ? ` (target ${m.target.op} ${m.target.value}: ${met(m) ? 'met' : 'NOT met'})` : ''}`);
        } catch (e) {
          failed++;
          log(`${name} failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
          results.push({ name, description: `failed: ${e instanceof Error ? e.message : String(e)}`, metrics: [] });
        }
      }
    } finally {
      if (es) await es.stop();
    }
    const os = await import('node:os');
    const meta = {
      date: new Date().toISOString(),
      machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
      node: process.version,
      mode: quick ? 'quick' : 'full',
      seeds: SEEDS,
    };
    mkdirSync(outDir, { recursive: true });
    const suffix = quick ? '-quick' : '';
    // a partial run (--only) updates its benchmarks and keeps the others' last results
    const jsonPath = path.join(outDir, `results${suffix}.json`);
    if (only && existsSync(jsonPath)) {
      try {
        const prev = JSON.parse(readFileSync(jsonPath, 'utf8')) as { results: BenchResult[] };
        const fresh = new Set(results.map((r) => r.name));
        const kept = prev.results.filter((r) => !fresh.has(r.name));
        const order = Object.keys(BENCHES);
        results.push(...kept);
        results.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
      } catch { /* unreadable: overwrite */ }
    }
    writeFileSync(path.join(outDir, `results${suffix}.json`), JSON.stringify({ meta, results }, null, 2) + '\n');
    writeFileSync(path.join(outDir, `results${suffix}.md`), resultsMarkdown(results, meta));
    log(`wrote ${path.join(outDir, `results${suffix}.md`)}`);
    return failed ? 1 : 0;
  },
};

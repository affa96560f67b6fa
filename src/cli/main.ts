import { parseArgs, rejectUnknown, UsageError } from './args.ts';
import type { Command } from './command.ts';
import { ConfigError, OPTIONS, type OptionSpec } from '../config/config.ts';
import { addSecretsFrom, installOutputRedaction } from '../util/redact.ts';

/** Commands load lazily so `kontext simulate` never pays for TensorFlow.js, and so on. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ command: Command }> }> = {
  serve: { summary: 'Run kontext: forward + webhook ingest, labeling, contexts into Elasticsearch, GraphQL.', load: () => import('./commands/serve.ts') },
  ingest: { summary: 'Replay audit log files (JSONL, .gz) through the pipeline into Elasticsearch.', load: () => import('./commands/ingest.ts') },
  simulate: { summary: 'Generate realistic labeled Kubernetes audit logs.', load: () => import('./commands/simulate.ts') },
  train: { summary: 'Train the labeling model on simulated (or given) audit logs.', load: () => import('./commands/train.ts') },
  evaluate: { summary: 'Evaluate labeling and contexts against ground truth.', load: () => import('./commands/evaluate.ts') },
  record: { summary: 'Record real audit logs from a real control plane on loopback, with ground truth.', load: () => import('./commands/record.ts') },
  bench: { summary: 'Run the benchmarks and write results to bench-results/.', load: () => import('./commands/bench.ts') },
  migrate: { summary: 'Move members embedded in context summaries (the layout before member documents) into <prefix>-members.', load: () => import('./commands/migrate.ts') },
  es: { summary: 'Manage the local Elasticsearch (start | stop | status).', load: () => import('./commands/es.ts') },
  kibana: { summary: 'Import the Kibana saved objects (data view, searches, dashboard).', load: () => import('./commands/kibana.ts') },
};

function topHelp(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'kontext — Kubernetes audit logs grouped into contexts',
    '',
    'Usage: kontext <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(w)}  ${c.summary}`),
    '',
    'Run `kontext <command> --help` for its options.',
  ].join('\n');
}

export function commandHelp(cmd: Command): string {
  const lines = [`Usage: kontext ${cmd.name} ${cmd.usage}`, '', cmd.summary];
  if (cmd.description) lines.push('', cmd.description);
  const rows: [string, string][] = cmd.flags.map((f) => [`--${f.flag}${f.boolean ? '' : ' VALUE'}`, f.help + (f.default !== undefined ? ` (default ${f.default})` : '')]);
  if (cmd.usesConfig) {
    for (const o of OPTIONS as readonly OptionSpec[]) {
      rows.push([`--${o.flag}${o.type === 'bool' ? '' : ' VALUE'}`, `${o.help} [${o.env}]${o.default !== undefined ? ` (default ${String(o.default)})` : ''}`]);
    }
  }
  if (rows.length) {
    const w = Math.min(34, Math.max(...rows.map((r) => r[0].length)));
    lines.push('', 'Options:', ...rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`));
  }
  return lines.join('\n');
}

export function booleanFlags(cmd: Command): Set<string> {
  const s = new Set(cmd.flags.filter((f) => f.boolean).map((f) => f.flag));
  if (cmd.usesConfig) for (const o of OPTIONS as readonly OptionSpec[]) if (o.type === 'bool') s.add(o.flag);
  s.add('help');
  return s;
}

export async function main(argv: string[]): Promise<void> {
  // before anything is printed: credentials given in the environment or as flags never reach output
  addSecretsFrom(process.env, argv);
  installOutputRedaction();
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(topHelp() + '\n');
    process.exitCode = name ? 0 : 2;
    return;
  }
  if (name === '--version') { process.stdout.write('kontext 0.1.0\n'); return; }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`kontext: unknown command ${JSON.stringify(name)}\n\n${topHelp()}\n`);
    process.exitCode = 2;
    return;
  }
  const { command } = await entry.load();
  try {
    const args = parseArgs(rest, booleanFlags(command));
    if (args.flags.help) { process.stdout.write(commandHelp(command) + '\n'); return; }
    const known = command.flags.map((f) => f.flag);
    if (command.usesConfig) known.push(...(OPTIONS as readonly OptionSpec[]).map((o) => o.flag));
    rejectUnknown(args.flags, known);
    const code = await command.run(args);
    if (typeof code === 'number') process.exitCode = code;
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) {
      process.stderr.write(`kontext ${name}: ${e.message}\nRun \`kontext ${name} --help\` for usage.\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`kontext ${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  }
}

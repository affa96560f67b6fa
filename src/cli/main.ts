import { Command as CommanderCommand, CommanderError, Option } from 'commander';
import { UsageError, type ParsedArgs } from './args.ts';
import type { Command } from './command.ts';
import { CONFIG_COMMANDS, ConfigError, optionsFor } from '../config/config.ts';
import { addSecretsFrom, installOutputRedaction } from '../util/redact.ts';
import { operationalMessage } from './errors.ts';

/** Commands load lazily so `kontext simulate` never pays for TensorFlow.js, and so on. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ command: Command }> }> = {
  serve: { summary: 'Run kontext: forward + webhook ingest, labeling, contexts into Elasticsearch, GraphQL.', load: () => import('./commands/serve.ts') },
  ingest: { summary: 'Replay audit log files (JSONL, .gz) through the pipeline into Elasticsearch.', load: () => import('./commands/ingest.ts') },
  simulate: { summary: 'Generate realistic labeled Kubernetes audit logs.', load: () => import('./commands/simulate.ts') },
  train: { summary: 'Train the labeling model on simulated (or given) audit logs.', load: () => import('./commands/train.ts') },
  evaluate: { summary: 'Evaluate labeling and contexts against ground truth.', load: () => import('./commands/evaluate.ts') },
  record: { summary: 'Record real audit logs from a real control plane on loopback, with ground truth.', load: () => import('./commands/record.ts') },
  bench: { summary: 'Run the benchmarks and write results to bench-results/.', load: () => import('./commands/bench.ts') },
  migrate: { summary: 'Move members embedded in context summaries into <prefix>-members; add ECS fields to summaries written before them.', load: () => import('./commands/migrate.ts') },
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

interface FlagRow { flag: string; boolean: boolean; help: string; placeholder?: string }
const PLACEHOLDER: Record<string, string> = { string: 'value', int: 'n', number: 'n', duration: 'duration', bytes: 'size' };

/** A command's flags: its own, then the configuration options it takes (from the one OPTIONS table). */
function flagRows(cmd: Command): FlagRow[] {
  const rows: FlagRow[] = cmd.flags.map((f) => ({ flag: f.flag, boolean: f.boolean === true, help: f.help + (f.default !== undefined ? ` (default ${f.default})` : '') }));
  if (cmd.usesConfig) {
    for (const o of optionsFor(cmd.name)) {
      rows.push({ flag: o.flag, boolean: o.type === 'bool', placeholder: PLACEHOLDER[o.type], help: `${o.help}${o.choices ? ` One of: ${o.choices.join(', ')}.` : ''} [env ${o.env}]${o.default !== undefined ? ` (default ${String(o.default)})` : ''}` });
    }
  }
  return rows;
}

/**
 * The command's parser (commander): typos get suggestions, values are checked present, `--no-X`
 * turns a boolean off, `--` ends the options. Flag values reach the command as written
 * (ParsedArgs.flags); configuration values are converted and validated by loadConfig.
 */
export function commandParser(cmd: Command): { program: CommanderCommand; flagsOf: () => ParsedArgs } {
  const program = new CommanderCommand(`kontext ${cmd.name}`)
    .usage(cmd.usage)
    .description(cmd.summary + (cmd.description ? `\n\n${cmd.description}` : ''))
    .helpOption('-h, --help', 'show this help')
    .allowExcessArguments(true)
    .showSuggestionAfterError(true)
    .configureHelp({ helpWidth: 110 });
  const attrs: Array<{ flag: string; attr: string; negated: boolean }> = [];
  for (const r of flagRows(cmd)) {
    if (r.boolean) {
      // a boolean named no-X ("--no-auth", "--no-progress") is itself the flag: commander would read it as X=false
      const opt = new Option(`--${r.flag}`, r.help);
      program.addOption(opt);
      attrs.push({ flag: r.flag, attr: opt.attributeName(), negated: r.flag.startsWith('no-') });
      if (!r.flag.startsWith('no-')) program.addOption(new Option(`--no-${r.flag}`).hideHelp());
    } else {
      const opt = new Option(`--${r.flag} <${r.placeholder ?? 'value'}>`, r.help);
      program.addOption(opt);
      attrs.push({ flag: r.flag, attr: opt.attributeName(), negated: false });
    }
  }
  return {
    program,
    flagsOf: () => {
      const o = program.opts() as Record<string, string | boolean>;
      const flags: Record<string, string | boolean> = {};
      for (const a of attrs) {
        if (program.getOptionValueSource(a.attr) !== 'cli') continue;
        const v = o[a.attr]!;
        flags[a.flag] = a.negated ? v === false : v;
      }
      return { flags, positionals: [...program.args] };
    },
  };
}

/** `kontext serve` when `flag` is a configuration option of serve but not of `command` */
function elsewhere(flag: string | undefined, command: string): string | undefined {
  if (!flag) return undefined;
  const cmds = CONFIG_COMMANDS.filter((c) => c !== command && optionsFor(c).some((o) => o.flag === flag));
  return cmds.length ? cmds.map((c) => `kontext ${c}`).join(', ') : undefined;
}

export function commandHelp(cmd: Command): string {
  return commandParser(cmd).program.helpInformation().trimEnd();
}

/** The command a mistyped name most likely meant, by commander's own suggestion (edit distance), if any. */
export function suggestCommand(name: string): string | undefined {
  const p = new CommanderCommand('kontext').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} }).showSuggestionAfterError(true);
  for (const c of Object.keys(COMMANDS)) p.command(c).action(() => {});
  try { p.parse([name], { from: 'user' }); } catch (e) {
    return e instanceof CommanderError ? /\(Did you mean (\S+)\?\)/.exec(e.message)?.[1] : undefined;
  }
  return undefined;
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
    const like = suggestCommand(name);
    process.stderr.write(`kontext: unknown command ${JSON.stringify(name)}${like ? ` (did you mean ${like}?)` : ''}\n\n${topHelp()}\n`);
    process.exitCode = 2;
    return;
  }
  const { command } = await entry.load();
  const { program, flagsOf } = commandParser(command);
  program.exitOverride();
  program.configureOutput({
    writeOut: (t) => process.stdout.write(t),
    // commander's own errors ("error: unknown option '--forwrd-port'\n(Did you mean --forward-port?)")
    writeErr: () => {},
    outputError: () => {},
  });
  let args: ParsedArgs;
  try {
    program.parse(rest, { from: 'user' });
    args = flagsOf();
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') { process.exitCode = 0; return; }
      let msg = e.message.replace(/^error: /, '').replace(/\n\(Did you mean (.*)\?\)/, ' (did you mean $1?)').replace(/'/g, '');
      const other = e.code === 'commander.unknownOption' ? elsewhere(/--([\w-]+)/.exec(msg)?.[1], name) : undefined;
      if (other) msg += ` (an option of ${other})`;
      process.stderr.write(`kontext ${name}: ${msg}\nRun \`kontext ${name} --help\` for usage.\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
  try {
    const code = await command.run(args);
    if (typeof code === 'number') process.exitCode = code;
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) {
      process.stderr.write(`kontext ${name}: ${e.message}\nRun \`kontext ${name} --help\` for usage.\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`kontext ${name}: ${operationalMessage(e)}\n`);
    if (process.env.KONTEXT_DEBUG) process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
    // a start-up that failed half-way may leave clients or timers behind: do not hang on them
    setTimeout(() => process.exit(1), 500).unref();
  }
}

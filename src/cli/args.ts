/** Minimal argv parser: `--flag value`, `--flag=value`, `--bool`, `--no-bool`, positionals, `--` ends flags. */
export interface ParsedArgs {
  flags: Record<string, string | boolean>;
  positionals: string[];
}

export class UsageError extends Error {
  constructor(message: string) { super(message); this.name = 'UsageError'; }
}

/**
 * @param booleans flags that never take a value (everything else takes the next token
 *                 unless written --flag=value or followed by another flag)
 */
export function parseArgs(argv: string[], booleans: ReadonlySet<string> = new Set()): ParsedArgs {
  const flags: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (a === '-h') { flags.help = true; continue; }
    if (!a.startsWith('--') || a === '-') { positionals.push(a); continue; }
    const eq = a.indexOf('=');
    if (eq > 0) { flags[a.slice(2, eq)] = a.slice(eq + 1); continue; }
    const name = a.slice(2);
    if (booleans.has(name)) { flags[name] = true; continue; }
    if (name.startsWith('no-') && booleans.has(name.slice(3))) { flags[name.slice(3)] = false; continue; }
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) { flags[name] = true; continue; }
    flags[name] = next; i++;
  }
  return { flags, positionals };
}

/** Throws a UsageError naming any flag not in `known`. */
export function rejectUnknown(flags: Record<string, unknown>, known: Iterable<string>): void {
  const k = new Set(known);
  const bad = Object.keys(flags).filter((f) => !k.has(f) && f !== 'help');
  if (bad.length) throw new UsageError(`unknown option${bad.length > 1 ? 's' : ''}: ${bad.map((b) => `--${b}`).join(', ')}`);
}

export function flagString(flags: Record<string, string | boolean>, name: string): string | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') throw new UsageError(`--${name} needs a value`);
  return v;
}

export function flagNumber(flags: Record<string, string | boolean>, name: string, def: number, opts: { int?: boolean; min?: number } = {}): number {
  const s = flagString(flags, name);
  if (s === undefined) return def;
  const n = Number(s);
  if (!Number.isFinite(n) || (opts.int && !Number.isInteger(n))) throw new UsageError(`--${name}: expected ${opts.int ? 'an integer' : 'a number'}, got ${JSON.stringify(s)}`);
  if (opts.min !== undefined && n < opts.min) throw new UsageError(`--${name}: must be >= ${opts.min}, got ${n}`);
  return n;
}

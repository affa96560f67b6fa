import type { ParsedArgs } from './args.ts';

/** Extra flags a command takes beyond the shared configuration (src/config). */
export interface FlagSpec { flag: string; help: string; boolean?: boolean; default?: string }

export interface Command {
  name: string;
  summary: string;
  /** usage line after "kontext <name>", e.g. "[options] FILE..." */
  usage: string;
  /** longer description printed by --help */
  description?: string;
  flags: FlagSpec[];
  /** whether the shared configuration options apply to this command */
  usesConfig: boolean;
  run(args: ParsedArgs): Promise<number | void>;
}

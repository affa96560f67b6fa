/** Small structured logger (pino-style JSON lines on stderr; credentials redacted, util/redact.ts). */
import { redactText } from './redact.ts';
export type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

let globalLevel: Level = (process.env.KONTEXT_LOG_LEVEL as Level) in RANK ? process.env.KONTEXT_LOG_LEVEL as Level : 'info';
let sink: (line: string) => void = (line) => { process.stderr.write(line + '\n'); };

export function setLogLevel(l: Level): void { globalLevel = l; }
/** Redirect log lines (tests capture them). */
export function setLogSink(fn: (line: string) => void): void { sink = fn; }

function errFields(f: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) out[k] = v instanceof Error ? { message: v.message, name: v.name } : v;
  return out;
}

export function createLogger(bindings: Record<string, unknown> = {}): Logger {
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < RANK[globalLevel]) return;
    sink(redactText(JSON.stringify({ time: new Date().toISOString(), level, ...bindings, msg, ...(fields ? errFields(fields) : {}) })));
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (b) => createLogger({ ...bindings, ...b }),
  };
}

export const log = createLogger();

/**
 * Structured logging on stderr through pino. Formats: `json` (one JSON object a line:
 * time, level, msg, fields; errors with type, message and stack), `ecs` (Elastic Common Schema:
 * @timestamp, log.level, message, error.*), `pretty` (human-readable, colored) and `auto`
 * (pretty when stderr is a terminal, JSON otherwise). The level is process-wide and applies to
 * loggers created before it was set.
 */
import { Writable } from 'node:stream';
import { pino, stdTimeFunctions, stdSerializers, type Logger as PinoLogger, type LoggerOptions, type DestinationStream } from 'pino';
import pinoPretty from 'pino-pretty';
import { ecsFormat } from '@elastic/ecs-pino-format';
import { redactText } from './redact.ts';

export type Level = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'auto' | 'json' | 'pretty' | 'ecs';
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'json', 'pretty', 'ecs'];

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

const envLevel = process.env.KONTEXT_LOG_LEVEL as Level;
let globalLevel: Level = envLevel in RANK ? envLevel : 'info';
const envFormat = process.env.KONTEXT_LOG_FORMAT as LogFormat;
let format: LogFormat = LOG_FORMATS.includes(envFormat) ? envFormat : 'auto';
/** a line sink set by setLogSink (tests); undefined: stderr */
let sink: ((line: string) => void) | undefined;
let root: PinoLogger | undefined;
/** bumped whenever the root logger is rebuilt, so cached children are rebuilt too */
let generation = 0;

export function setLogLevel(l: Level): void { globalLevel = l; }
export function getLogLevel(): Level { return globalLevel; }
/** `auto`: pretty on a terminal, JSON otherwise. */
export function setLogFormat(f: LogFormat): void { format = f; root = undefined; generation++; }
/** Redirect log lines (tests capture them): one line per call, no trailing newline. */
export function setLogSink(fn: (line: string) => void): void { sink = fn; root = undefined; generation++; }

function lineStream(fn: (line: string) => void): DestinationStream {
  return new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) fn(redactText(l));
      cb();
    },
  }) as unknown as DestinationStream;
}

/** stderr, line by line, credentials redacted (util/redact.ts) */
const stderrLines = (): DestinationStream => lineStream((l) => { process.stderr.write(l + '\n'); });

/** Error values anywhere in the fields keep their type, message and stack. */
function serializeErrors(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Error && k !== 'err') (out ??= { ...fields })[k] = stdSerializers.err(v);
  }
  return out ?? fields;
}

function buildRoot(): PinoLogger {
  const pretty = format === 'pretty' || (format === 'auto' && !sink && process.stderr.isTTY === true);
  const base: LoggerOptions = { level: 'debug', base: undefined };
  if (format === 'ecs') {
    const dest = sink ? lineStream(sink) : stderrLines();
    return pino({ ...ecsFormat({ convertErr: true, apmIntegration: false, serviceName: 'kontext' }), level: 'debug' }, dest);
  }
  const opts: LoggerOptions = {
    ...base,
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: stdSerializers.err },
  };
  if (pretty) {
    const dest = sink
      ? pinoPretty({ colorize: false, sync: true, destination: lineStream(sink) as unknown as NodeJS.WritableStream })
      : pinoPretty({ colorize: process.stderr.isTTY === true, sync: true, destination: stderrLines() as unknown as NodeJS.WritableStream, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
    return pino(opts, dest);
  }
  return pino(opts, sink ? lineStream(sink) : stderrLines());
}

function rootLogger(): PinoLogger { return (root ??= buildRoot()); }

export function createLogger(bindings: Record<string, unknown> = {}): Logger {
  let cached: PinoLogger | undefined;
  let cachedGen = -1;
  const target = (): PinoLogger => {
    if (!cached || cachedGen !== generation) {
      cached = Object.keys(bindings).length ? rootLogger().child(bindings) : rootLogger();
      cachedGen = generation;
    }
    return cached;
  };
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < RANK[globalLevel]) return;
    const t = target();
    if (fields) t[level](serializeErrors(fields), msg);
    else t[level](msg);
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

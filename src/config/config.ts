/**
 * Configuration: one table of options, read from flags (--kebab-case) over environment
 * variables (KONTEXT_* or the listed name) over defaults, validated with clear errors.
 * `kontext <cmd> --help` and the README's configuration table are generated from OPTIONS.
 */
import { isClusterName, parseClusterList, tagClusterMatcher } from '../clusters/names.ts';

export type OptionType = 'string' | 'int' | 'number' | 'bool' | 'duration' | 'bytes';

export interface OptionSpec {
  key: string;
  flag: string;
  env: string;
  type: OptionType;
  default: string | number | boolean | undefined;
  help: string;
  /** allowed values for strings */
  choices?: string[];
  min?: number;
  /** the commands that take this option (absent: every command that reads the configuration, or SERVE_ONLY) */
  commands?: readonly string[];
}

export const OPTIONS = [
  { key: 'elasticsearchUrl', flag: 'elasticsearch-url', env: 'ELASTICSEARCH_URL', type: 'string', default: undefined, help: 'Elasticsearch URL. Unset: a local Elasticsearch is downloaded (Maven Central) and started under .kontext/es.' },
  { key: 'elasticsearchUsername', flag: 'elasticsearch-username', env: 'ELASTICSEARCH_USERNAME', type: 'string', default: undefined, help: 'Basic-auth user for Elasticsearch.' },
  { key: 'elasticsearchPassword', flag: 'elasticsearch-password', env: 'ELASTICSEARCH_PASSWORD', type: 'string', default: undefined, help: 'Basic-auth password for Elasticsearch.' },
  { key: 'elasticsearchApiKey', flag: 'elasticsearch-api-key', env: 'ELASTICSEARCH_API_KEY', type: 'string', default: undefined, help: 'API key for Elasticsearch (instead of user/password).' },
  { key: 'elasticsearchCloudId', flag: 'elasticsearch-cloud-id', env: 'ELASTICSEARCH_CLOUD_ID', type: 'string', default: undefined, help: 'Elastic Cloud deployment id (instead of --elasticsearch-url); use with an API key or user/password.' },
  { key: 'elasticsearchCa', flag: 'elasticsearch-ca', env: 'ELASTICSEARCH_CA', type: 'string', default: undefined, help: 'PEM file of the CA that signed Elasticsearch\'s certificate (https URLs); trusted besides the system CAs.' },
  { key: 'elasticsearchCaFingerprint', flag: 'elasticsearch-ca-fingerprint', env: 'ELASTICSEARCH_CA_FINGERPRINT', type: 'string', default: undefined, help: 'SHA-256 fingerprint (hex, colons optional) of the CA certificate Elasticsearch prints at first start: trust a chain containing it.' },
  { key: 'elasticsearchTlsInsecure', flag: 'elasticsearch-tls-insecure', env: 'ELASTICSEARCH_TLS_INSECURE', type: 'bool', default: false, help: 'Do not verify Elasticsearch\'s TLS certificate (labs only: anyone on the path can read and change what kontext stores; warned about at every start).' },
  { key: 'elasticsearchWait', flag: 'elasticsearch-wait', env: 'KONTEXT_ELASTICSEARCH_WAIT', type: 'duration', default: '60s', help: 'How long start-up waits for Elasticsearch to answer, retrying (each retry logged), before it stops with an error.' },
  { key: 'indexPrefix', flag: 'index-prefix', env: 'KONTEXT_INDEX_PREFIX', type: 'string', default: 'kontext', help: 'Prefix of every index kontext writes (daily <prefix>-contexts-YYYY.MM.DD, <prefix>-members-…, <prefix>-dead-letter-…, <prefix>-raw-…; read through the aliases <prefix>-contexts, <prefix>-members, <prefix>-dead-letter).' },
  { key: 'retention', flag: 'retention', env: 'KONTEXT_RETENTION', type: 'duration', default: '30d', help: 'Keep daily contexts, members and dead-letter indices this long (ILM policy <prefix>-retention where Elasticsearch has ILM, else kontext deletes them); 0 keeps everything.' },
  { key: 'indexReplicas', flag: 'index-replicas', env: 'KONTEXT_INDEX_REPLICAS', type: 'string', default: '0-1', help: 'Replicas of kontext\'s indices: a number, or a range auto-expanding with the nodes (0-1: one replica once a second node exists).' },
  { key: 'indexShards', flag: 'index-shards', env: 'KONTEXT_INDEX_SHARDS', type: 'int', default: 1, min: 1, help: 'Primary shards of each new daily index.' },
  { key: 'rawRetention', flag: 'raw-retention', env: 'KONTEXT_RAW_RETENTION', type: 'duration', default: '0', help: 'Also keep raw events in <prefix>-raw-YYYY.MM.DD for drill-down, deleted after this long; 0 disables.' },
  { key: 'clusterName', flag: 'cluster-name', env: 'KONTEXT_CLUSTER_NAME', type: 'string', default: 'default', help: 'Kubernetes cluster of events that name none (no --cluster-from-tag match, no --cluster-key field, webhook at /webhook/audit, file replay); every context id is <cluster>/<auditID>. 1-63 of A-Z a-z 0-9 . _ -.' },
  { key: 'clusterFromTag', flag: 'cluster-from-tag', env: 'KONTEXT_CLUSTER_FROM_TAG', type: 'string', default: undefined, help: 'Regular expression on the forward tag whose group "cluster" (or first group) names the cluster, e.g. "kube\\.audit\\.(?<cluster>[^.]+)"; a tag it does not match is --cluster-name.' },
  { key: 'clusterKey', flag: 'cluster-key', env: 'KONTEXT_CLUSTER_KEY', type: 'string', default: undefined, help: 'Record field naming the cluster (a Fluent Bit record_modifier adds it), before the forward tag and --cluster-name.' },
  { key: 'clusters', flag: 'clusters', env: 'KONTEXT_CLUSTERS', type: 'string', default: undefined, help: 'Comma-separated clusters this instance owns (scale-out: one set per replica): only their stored contexts are taken back at start-up, events of any other cluster are dead-lettered (foreign-cluster). Unset: every cluster.' },
  { key: 'forwardHost', flag: 'forward-host', env: 'KONTEXT_FORWARD_HOST', type: 'string', default: '0.0.0.0', help: 'Listen address of the Fluent Bit / Fluentd forward input.' },
  { key: 'forwardPort', flag: 'forward-port', env: 'KONTEXT_FORWARD_PORT', type: 'int', default: 24224, min: 0, help: 'Port of the forward input; 0 picks a free port.' },
  { key: 'forwardSharedKey', flag: 'forward-shared-key', env: 'KONTEXT_FORWARD_SHARED_KEY', type: 'string', default: undefined, help: 'Shared key: when set, peers must complete the HELO/PING/PONG handshake. Required on a non-loopback forward address unless --forward-tls-ca is set.' },
  { key: 'forwardUsers', flag: 'forward-users', env: 'KONTEXT_FORWARD_USERS', type: 'string', default: undefined, help: 'Forward user auth, "user:password,user2:password2" (needs a shared key).' },
  { key: 'forwardTlsCert', flag: 'forward-tls-cert', env: 'KONTEXT_FORWARD_TLS_CERT', type: 'string', default: undefined, help: 'PEM certificate file: serve forward over TLS.' },
  { key: 'forwardTlsKey', flag: 'forward-tls-key', env: 'KONTEXT_FORWARD_TLS_KEY', type: 'string', default: undefined, help: 'PEM private key file for forward TLS.' },
  { key: 'forwardTlsCa', flag: 'forward-tls-ca', env: 'KONTEXT_FORWARD_TLS_CA', type: 'string', default: undefined, help: 'PEM CA file: forward peers must present a client certificate it signed (mTLS; needs --forward-tls-cert).' },
  { key: 'forwardInsecure', flag: 'forward-insecure', env: 'KONTEXT_FORWARD_INSECURE', type: 'bool', default: false, help: 'Allow the forward input on a non-loopback address without a shared key or client certificates (labs only: anyone who reaches the port can store events).' },
  { key: 'maxMessageBytes', flag: 'max-message-bytes', env: 'KONTEXT_MAX_MESSAGE_BYTES', type: 'bytes', default: '64mb', help: 'Largest forward message or webhook body accepted, before and after decompression.' },
  { key: 'maxDecompressionRatio', flag: 'max-decompression-ratio', env: 'KONTEXT_MAX_DECOMPRESSION_RATIO', type: 'number', default: 100, min: 1, help: 'Largest decompressed / compressed size of a forward message or webhook body (checked above 1 MiB decompressed).' },
  { key: 'maxMessageEntries', flag: 'max-message-entries', env: 'KONTEXT_MAX_MESSAGE_ENTRIES', type: 'int', default: 100000, min: 1, help: 'Most entries (records) in one forward message.' },
  { key: 'maxDepth', flag: 'max-depth', env: 'KONTEXT_MAX_DEPTH', type: 'int', default: 100, min: 1, help: 'Deepest nesting of arrays and maps accepted in a forward record or webhook JSON body.' },
  { key: 'idleTimeout', flag: 'idle-timeout', env: 'KONTEXT_IDLE_TIMEOUT', type: 'duration', default: '60s', help: 'Close forward connections idle (or sending a partial frame) this long.' },
  { key: 'maxConnections', flag: 'max-connections', env: 'KONTEXT_MAX_CONNECTIONS', type: 'int', default: 1024, min: 1, help: 'Concurrent forward connections. When all are taken, the oldest not yet authenticated is evicted.' },
  { key: 'maxConnectionsPerPeer', flag: 'max-connections-per-peer', env: 'KONTEXT_MAX_CONNECTIONS_PER_PEER', type: 'int', default: 128, min: 1, help: 'Concurrent forward connections from one remote address.' },
  { key: 'httpHost', flag: 'http-host', env: 'KONTEXT_HTTP_HOST', type: 'string', default: '0.0.0.0', help: 'Listen address of the HTTP server (GraphQL, webhook, health, metrics).' },
  { key: 'httpPort', flag: 'http-port', env: 'KONTEXT_HTTP_PORT', type: 'int', default: 8080, min: 0, help: 'HTTP port; 0 picks a free port.' },
  { key: 'healthPort', flag: 'health-port', env: 'KONTEXT_HEALTH_PORT', type: 'int', default: undefined, min: 0, help: 'Also answer /healthz and /readyz on this port (same host as HTTP) from a worker thread, even while the pipeline is busy; use it for Kubernetes probes. 0 picks a free port.' },
  { key: 'metricsPublic', flag: 'metrics-public', env: 'KONTEXT_METRICS_PUBLIC', type: 'bool', default: false, help: 'Serve /metrics without a bearer token (it needs one by default, like /graphql).' },
  { key: 'authTokens', flag: 'auth-tokens', env: 'KONTEXT_AUTH_TOKENS', type: 'string', default: undefined, help: 'Comma-separated bearer tokens accepted by /graphql and the webhook. Required unless --no-auth.' },
  { key: 'noAuth', flag: 'no-auth', env: 'KONTEXT_NO_AUTH', type: 'bool', default: false, help: 'Serve without authentication (local use only). `npm start` sets it for a local run.' },
  { key: 'model', flag: 'model', env: 'KONTEXT_MODEL', type: 'string', default: 'models/default', help: 'Directory of the labeling model (model.json, weights, vocab.json).' },
  { key: 'backend', flag: 'backend', env: 'KONTEXT_TF_BACKEND', type: 'string', default: 'auto', choices: ['auto', 'tensorflow', 'wasm', 'cpu'], help: 'TensorFlow.js backend of `kontext train` (auto = tfjs-node when it loads, else wasm); the label stage runs its model in plain JavaScript.' },
  { key: 'workers', flag: 'workers', env: 'KONTEXT_WORKERS', type: 'int', default: 1, min: 0, help: "Worker threads besides the main one. 1 (default): the labeling model's recurrent part runs on a worker thread while the main thread decodes, normalizes, clusters and writes; 0: everything on the main thread (for a single core). Values above 1 act as 1." },
  { key: 'reorderHorizon', flag: 'reorder-horizon', env: 'KONTEXT_REORDER_HORIZON', type: 'duration', default: '1h', help: 'How far (event time) behind the newest event an event may arrive and still be put in order.' },
  { key: 'reorderWait', flag: 'reorder-wait', env: 'KONTEXT_REORDER_WAIT', type: 'duration', default: '2s', help: 'How long (wall time) events wait for older ones delivered after them (out-of-order chunks of a backlog).' },
  { key: 'backlogEndWait', flag: 'backlog-end-wait', env: 'KONTEXT_BACKLOG_END_WAIT', type: 'duration', default: '10s', help: 'How long (wall time) a backlog being caught up (event times minutes behind the clock) must be silent before it counts as ended for now: the labeling windows still open are labeled, so the units holding them are acknowledged, and contexts close on the wall clock. Shorter pauses change no label and no context.' },
  { key: 'contextIdle', flag: 'context-idle', env: 'KONTEXT_CONTEXT_IDLE', type: 'duration', default: '60s', help: 'Close a context after this long without a new member (event time).' },
  { key: 'contextMaxAge', flag: 'context-max-age', env: 'KONTEXT_CONTEXT_MAX_AGE', type: 'duration', default: '300s', help: 'Close a context this long after its first event.' },
  { key: 'sweepInterval', flag: 'sweep-interval', env: 'KONTEXT_SWEEP_INTERVAL', type: 'duration', default: '60s', help: 'How often (wall time) `serve` closes stored contexts left open past their max age by a crashed or stopped instance; one nobody wrote across a whole interval is closed (safe with several replicas). 0 = only at start-up.' },
  { key: 'checkpointInterval', flag: 'checkpoint-interval', env: 'KONTEXT_CHECKPOINT_INTERVAL', type: 'duration', default: '10s', help: 'Least wall time between two restart checkpoints of the labeler, detection and clusterer session memory (<prefix>-state), each saved once the contexts written with it are stored; a crash loses at most this much of that memory. 0 = at every write.' },
  { key: 'contextMaxEvents', flag: 'context-max-events', env: 'KONTEXT_CONTEXT_MAX_EVENTS', type: 'int', default: 1000, min: 1, help: 'Close a context at this many members.' },
  { key: 'flushInterval', flag: 'flush-interval', env: 'KONTEXT_FLUSH_INTERVAL', type: 'duration', default: '1s', help: 'How often open contexts are written to Elasticsearch (and forward chunks acked).' },
  { key: 'maxInFlight', flag: 'max-in-flight', env: 'KONTEXT_MAX_IN_FLIGHT', type: 'int', default: 200000, min: 1, help: 'Events buffered before sources stop reading (backpressure).' },
  { key: 'maxBuffer', flag: 'max-buffer', env: 'KONTEXT_MAX_BUFFER', type: 'bytes', default: '256mb', help: 'Bytes of events held for reordering (their JSON text, plus a fixed overhead per event) before sources stop reading (backpressure).' },
  { key: 'rules', flag: 'rules', env: 'KONTEXT_RULES', type: 'string', default: undefined, help: 'Detection rules files (YAML, comma-separated) loaded after the shipped schema/detections/kontext.yaml: add detections, override lists, macros and shipped detections. An invalid file stops the start-up.' },
  { key: 'alertWebhookUrl', flag: 'alert-webhook-url', env: 'KONTEXT_ALERT_WEBHOOK_URL', type: 'string', default: undefined, help: 'POST each closed context with detections here (JSON, Falco-style, one request per detection), after it is stored; retried, never sent twice (state in <prefix>-alerts).' },
  { key: 'alertMinSeverity', flag: 'alert-min-severity', env: 'KONTEXT_ALERT_MIN_SEVERITY', type: 'string', default: 'medium', choices: ['critical', 'high', 'medium', 'low', 'info'], help: 'Least severe detection the alert webhook is sent for.' },
  { key: 'logLevel', flag: 'log-level', env: 'KONTEXT_LOG_LEVEL', type: 'string', default: 'info', choices: ['debug', 'info', 'warn', 'error'], help: 'Log level (logs go to stderr).' },
  { key: 'logFormat', flag: 'log-format', env: 'KONTEXT_LOG_FORMAT', type: 'string', default: 'auto', choices: ['auto', 'json', 'pretty', 'ecs'], help: 'Log format: json (one object a line), ecs (Elastic Common Schema JSON), pretty (human-readable), auto (pretty on a terminal, else json).' },
] as const satisfies readonly OptionSpec[];

/** Options only `kontext serve` takes (listeners, auth, connection limits); `ingest --help` leaves them out. */
export const SERVE_ONLY: ReadonlySet<string> = new Set([
  'forwardHost', 'forwardPort', 'forwardSharedKey', 'forwardUsers', 'forwardTlsCert', 'forwardTlsKey', 'forwardTlsCa', 'forwardInsecure',
  'maxMessageBytes', 'maxDecompressionRatio', 'maxMessageEntries', 'maxDepth', 'idleTimeout', 'maxConnections', 'maxConnectionsPerPeer',
  'httpHost', 'httpPort', 'healthPort', 'metricsPublic', 'authTokens', 'noAuth', 'clusterFromTag',
]);

/** The commands that read the configuration (Command.usesConfig). */
export const CONFIG_COMMANDS: readonly string[] = ['serve', 'ingest'];

/** The commands an option applies to; undefined: every command that reads the configuration. */
export function optionCommands(spec: OptionSpec): readonly string[] | undefined {
  return spec.commands ?? (SERVE_ONLY.has(spec.key) ? ['serve'] : undefined);
}

/** The configuration options `kontext <command>` takes, in table order. */
export function optionsFor(command: string): OptionSpec[] {
  return (OPTIONS as readonly OptionSpec[]).filter((o) => { const c = optionCommands(o); return !c || c.includes(command); });
}

type Spec = (typeof OPTIONS)[number];
type ValueOf<S extends Spec> = S['type'] extends 'bool' ? boolean
  : S['type'] extends 'string' ? (S['default'] extends string ? string : string | undefined)
  : S['default'] extends undefined ? number | undefined
  : number;
export type Config = { [S in Spec as S['key']]: ValueOf<S> };

export class ConfigError extends Error {
  constructor(message: string) { super(message); this.name = 'ConfigError'; }
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** "250ms", "2s", "5m", "1h", "7d", bare number = seconds. Returns milliseconds. */
export function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim());
  if (!m) throw new ConfigError(`not a duration: ${JSON.stringify(v)} (use e.g. 500ms, 2s, 5m, 1h, 7d)`);
  return Number(m[1]) * DURATION_UNITS[m[2] ?? 's']!;
}
const BYTE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
/** "512kb", "64mb", bare number = bytes. */
export function parseBytes(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(b|kb|mb|gb)?$/i.exec(v.trim());
  if (!m) throw new ConfigError(`not a size: ${JSON.stringify(v)} (use e.g. 512kb, 64mb)`);
  return Math.floor(Number(m[1]) * BYTE_UNITS[(m[2] ?? 'b').toLowerCase()]!);
}

function convert(spec: OptionSpec, raw: string | boolean, from: string): string | number | boolean {
  const where = `${spec.flag} (from ${from})`;
  try {
    switch (spec.type) {
      case 'bool': {
        if (typeof raw === 'boolean') return raw;
        const s = raw.toLowerCase();
        if (['1', 'true', 'yes', 'on'].includes(s)) return true;
        if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
        throw new ConfigError(`expected true/false, got ${JSON.stringify(raw)}`);
      }
      case 'int': case 'number': {
        const n = Number(raw);
        if (typeof raw === 'boolean' || raw === '' || !Number.isFinite(n) || (spec.type === 'int' && !Number.isInteger(n))) {
          throw new ConfigError(`expected ${spec.type === 'int' ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}`);
        }
        if (spec.min !== undefined && n < spec.min) throw new ConfigError(`must be >= ${spec.min}, got ${n}`);
        return n;
      }
      case 'duration': if (typeof raw === 'boolean') throw new ConfigError('needs a value'); return parseDuration(raw);
      case 'bytes': if (typeof raw === 'boolean') throw new ConfigError('needs a value'); return parseBytes(raw);
      case 'string': {
        if (typeof raw === 'boolean') throw new ConfigError('needs a value');
        if (spec.choices && !spec.choices.includes(raw)) throw new ConfigError(`must be one of ${spec.choices.join(', ')}, got ${JSON.stringify(raw)}`);
        return raw;
      }
    }
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`--${where}: ${e.message}`);
    throw e;
  }
}

/**
 * Builds the config from parsed flags (flag name → value) and an environment.
 * Unknown flags are the caller's business (commands have their own flags too).
 */
export function loadConfig(flags: Record<string, string | boolean> = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  for (const spec of OPTIONS as readonly OptionSpec[]) {
    let raw: string | boolean | undefined; let from = 'default';
    if (flags[spec.flag] !== undefined) { raw = flags[spec.flag]; from = 'flag'; }
    else if (env[spec.env] !== undefined && env[spec.env] !== '') { raw = env[spec.env]; from = `env ${spec.env}`; }
    if (raw === undefined) {
      out[spec.key] = spec.default === undefined ? undefined
        : typeof spec.default === 'string' && spec.type !== 'string' ? convert(spec, spec.default, 'default') : spec.default;
    } else out[spec.key] = convert(spec, raw, from);
  }
  const c = out as Config;
  if ((c.forwardTlsCert === undefined) !== (c.forwardTlsKey === undefined)) {
    throw new ConfigError('--forward-tls-cert and --forward-tls-key go together');
  }
  if (c.forwardTlsCa !== undefined && c.forwardTlsCert === undefined) {
    throw new ConfigError('--forward-tls-ca needs --forward-tls-cert and --forward-tls-key (client certificates are verified over TLS)');
  }
  if (c.forwardUsers !== undefined) {
    if (c.forwardSharedKey === undefined) throw new ConfigError('--forward-users needs --forward-shared-key');
    for (const pair of c.forwardUsers.split(',')) {
      if (!/^[^:]+:.+$/.test(pair)) throw new ConfigError(`--forward-users: expected user:password, got ${JSON.stringify(pair)}`);
    }
  }
  if (c.alertWebhookUrl !== undefined) {
    let u: URL | undefined;
    try { u = new URL(c.alertWebhookUrl); } catch { /* below */ }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw new ConfigError(`--alert-webhook-url: not an http(s) URL: ${JSON.stringify(c.alertWebhookUrl)}`);
  }
  if (c.elasticsearchUrl !== undefined) {
    // the value itself may hold a password: never echoed
    try { new URL(c.elasticsearchUrl); } catch { throw new ConfigError('--elasticsearch-url: not a URL (expected http(s)://host:port)'); }
  }
  if (c.elasticsearchCloudId !== undefined && c.elasticsearchUrl !== undefined) {
    throw new ConfigError('--elasticsearch-cloud-id and --elasticsearch-url exclude each other: give one');
  }
  if (c.elasticsearchCaFingerprint !== undefined && !/^([0-9a-f]{2}:?){31}[0-9a-f]{2}$/i.test(c.elasticsearchCaFingerprint.trim())) {
    throw new ConfigError('--elasticsearch-ca-fingerprint: expected a SHA-256 fingerprint, 64 hex digits (colons optional)');
  }
  if (!isClusterName(c.clusterName)) throw new ConfigError(`--cluster-name: not a cluster name: ${JSON.stringify(c.clusterName)} (1-63 of A-Z a-z 0-9 . _ -, starting with a letter or digit)`);
  try { parseClusterList(c.clusters); } catch (e) { throw new ConfigError(`--clusters: ${(e as Error).message}`); }
  if (c.clusterFromTag !== undefined) {
    try { tagClusterMatcher(c.clusterFromTag); } catch (e) { throw new ConfigError(`--cluster-from-tag: not a regular expression: ${(e as Error).message}`); }
  }
  if (!/^\d+$|^\d+-(\d+|all)$/.test(c.indexReplicas.trim())) {
    throw new ConfigError(`--index-replicas: expected a number (1) or a range (0-1, 0-all), got ${JSON.stringify(c.indexReplicas)}`);
  }
  return c;
}

/** Markdown table of every option, for the README. */
export function optionsMarkdown(): string {
  const rows = (OPTIONS as readonly OptionSpec[]).map((s) =>
    `| \`--${s.flag}\` | \`${s.env}\` | ${s.default === undefined ? '—' : `\`${String(s.default)}\``} | ${(optionCommands(s) ?? CONFIG_COMMANDS).join(', ')} | ${s.help}${s.choices ? ` One of: ${s.choices.join(', ')}.` : ''} |`);
  return ['| flag | environment | default | commands | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

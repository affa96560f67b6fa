/**
 * Credentials never reach output. Secrets kontext is given (Elasticsearch password and API key,
 * bearer tokens, the forward shared key and user passwords, passwords in URLs) are registered
 * once at start-up and replaced by `[redacted]` wherever they appear; on top, every text is
 * scrubbed of URL passwords (`scheme://user:…@host`), `Authorization`-style values (`ApiKey …`,
 * `Bearer …`, `Basic …`) and JSON fields named like a secret. `installOutputRedaction` applies
 * it to everything the process writes on stdout and stderr (logs, banner, errors, --help);
 * /metrics passes its text through `redactText` too.
 */
const REDACTED = '[redacted]';
const secrets = new Set<string>();
let pattern: RegExp | undefined;

/** Secrets shorter than this are not matched as plain text (too many false hits); patterns still apply. */
const MIN_SECRET = 4;

function escape(s: string): string { return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }

/** Registers secret values to be redacted from every output. */
export function addSecrets(...values: Array<string | undefined | null>): void {
  let changed = false;
  for (const v of values) {
    if (!v || v.length < MIN_SECRET || secrets.has(v)) continue;
    secrets.add(v);
    // the URL-encoded and base64 (Basic auth) forms leak as easily
    const enc = encodeURIComponent(v);
    if (enc !== v) secrets.add(enc);
    changed = true;
  }
  if (changed) pattern = new RegExp([...secrets].sort((a, b) => b.length - a.length).map(escape).join('|'), 'g');
}

/** Forget registered secrets (tests). */
export function clearSecrets(): void { secrets.clear(); pattern = undefined; }

/** The option keys (config.ts) whose values are secrets, and how to find the secret in them. */
const SECRET_OPTIONS: Record<string, (v: string) => string[]> = {
  elasticsearchPassword: (v) => [v],
  elasticsearchApiKey: (v) => [v, ...(() => { try { return [Buffer.from(v, 'base64').toString('utf8').split(':')[1] ?? '']; } catch { return []; } })()],
  authTokens: (v) => v.split(',').map((s) => s.trim()),
  forwardSharedKey: (v) => [v],
  forwardUsers: (v) => v.split(',').map((p) => p.slice(p.indexOf(':') + 1)),
  elasticsearchUrl: (v) => urlSecrets(v),
  alertWebhookUrl: (v) => urlSecrets(v),
};

/** Environment variables (config.ts OPTIONS env names) that hold secrets. */
export const SECRET_ENV: Record<string, string> = {
  ELASTICSEARCH_PASSWORD: 'elasticsearchPassword',
  ELASTICSEARCH_API_KEY: 'elasticsearchApiKey',
  KONTEXT_AUTH_TOKENS: 'authTokens',
  KONTEXT_FORWARD_SHARED_KEY: 'forwardSharedKey',
  KONTEXT_FORWARD_USERS: 'forwardUsers',
  ELASTICSEARCH_URL: 'elasticsearchUrl',
  KONTEXT_ALERT_WEBHOOK_URL: 'alertWebhookUrl',
};
const SECRET_FLAGS: Record<string, string> = {
  'elasticsearch-password': 'elasticsearchPassword',
  'elasticsearch-api-key': 'elasticsearchApiKey',
  'auth-tokens': 'authTokens',
  'forward-shared-key': 'forwardSharedKey',
  'forward-users': 'forwardUsers',
  'elasticsearch-url': 'elasticsearchUrl',
  'alert-webhook-url': 'alertWebhookUrl',
};

function urlSecrets(v: string): string[] {
  const out: string[] = [];
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/@\s]*)@/i.exec(v);
  if (m) {
    const info = m[1]!;
    const i = info.indexOf(':');
    out.push(i >= 0 ? info.slice(i + 1) : info);
    try { out.push(decodeURIComponent(i >= 0 ? info.slice(i + 1) : info)); } catch { /* keep raw */ }
  }
  // tokens in query strings (?token=…, ?api_key=…)
  for (const q of v.matchAll(/[?&](?:token|access_token|api_key|apikey|key|secret|password|sig)=([^&#\s]+)/gi)) out.push(q[1]!);
  return out;
}

/** Registers the secrets of a config-like object (keys as in config.ts). */
export function addConfigSecrets(cfg: Record<string, unknown>): void {
  for (const [key, find] of Object.entries(SECRET_OPTIONS)) {
    const v = cfg[key];
    if (typeof v === 'string' && v) addSecrets(...find(v));
  }
}

/** Registers secrets given as environment variables and as flags (`--flag value`, `--flag=value`). */
export function addSecretsFrom(env: NodeJS.ProcessEnv, argv: string[]): void {
  const cfg: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(SECRET_ENV)) if (env[name]) cfg[key] = env[name];
  addConfigSecrets(cfg);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    const flag = a.slice(2, eq >= 0 ? eq : undefined);
    const key = SECRET_FLAGS[flag];
    if (!key) continue;
    const value = eq >= 0 ? a.slice(eq + 1) : argv[i + 1];
    if (value !== undefined) addConfigSecrets({ [key]: value });
  }
}

/** A URL without its password (user kept) and without secret query values. */
export function redactUrl(url: string): string {
  return redactText(url);
}

const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/@\s:"']*):([^/@\s"']+)@/gi;
const URL_TOKEN = /\b([a-z][a-z0-9+.-]*:\/\/)([^/@\s:"']+)@/gi;
const AUTH_VALUE = /\b(ApiKey|Bearer|Basic)(\s+)[A-Za-z0-9._~+/=-]{6,}/g;
const QUERY_SECRET = /([?&](?:token|access_token|api_key|apikey|secret|password|sig)=)[^&#\s"']+/gi;
const JSON_SECRET = /("(?:password|passwd|apiKey|api_key|token|secret|sharedKey|shared_key|authorization|elasticsearchPassword|elasticsearchApiKey|authTokens|forwardSharedKey|forwardUsers)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;

/** `text` with every registered secret and every credential-shaped value replaced. */
export function redactText(text: string): string {
  let s = text;
  if (pattern) s = s.replace(pattern, REDACTED);
  if (s.includes('://')) {
    s = s.replace(URL_USERINFO, (_m, scheme, user) => `${scheme}${user}:${REDACTED}@`);
    // a bare token as userinfo (https://TOKEN@host): keep scheme and host only
    s = s.replace(URL_TOKEN, (m, scheme, user) => (user.length >= 16 ? `${scheme}${REDACTED}@` : m));
    s = s.replace(QUERY_SECRET, `$1${REDACTED}`);
  }
  if (/ApiKey|Bearer|Basic/.test(s)) s = s.replace(AUTH_VALUE, `$1$2${REDACTED}`);
  if (s.includes('"')) s = s.replace(JSON_SECRET, `$1"${REDACTED}"`);
  return s;
}

/** Only the registered secrets and URL passwords (for data output, where other patterns could alter records). */
export function redactSecrets(text: string): string {
  let s = text;
  if (pattern) s = s.replace(pattern, REDACTED);
  if (s.includes('://')) s = s.replace(URL_USERINFO, (_m, scheme, user) => `${scheme}${user}:${REDACTED}@`);
  return s;
}

let installed = false;
/**
 * Routes text written to stderr (logs, banner, errors) through `redactText` and text written to
 * stdout (help, command output: records) through `redactSecrets`; binary output is left alone.
 * Idempotent.
 */
export function installOutputRedaction(): void {
  if (installed) return;
  installed = true;
  for (const [stream, fn] of [[process.stdout, redactSecrets], [process.stderr, redactText]] as const) {
    const write = stream.write.bind(stream) as (...a: unknown[]) => boolean;
    (stream as any).write = (chunk: unknown, ...rest: unknown[]): boolean => write(typeof chunk === 'string' ? fn(chunk) : chunk, ...rest);
  }
}

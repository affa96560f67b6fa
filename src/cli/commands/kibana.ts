/**
 * `kontext kibana`: imports plugin/kibana/saved-objects.ndjson (data view on the contexts index,
 * saved searches, Lens visualizations, a dashboard) through Kibana's saved objects import API.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { flagString, UsageError, type ParsedArgs } from '../args.ts';
import type { Command } from '../command.ts';

export const DEFAULT_FILE = fileURLToPath(new URL('../../../plugin/kibana/saved-objects.ndjson', import.meta.url));

export interface KibanaImportOptions {
  /** Kibana base URL, e.g. http://kibana:5601 (a base path is kept) */
  url: string;
  ndjson: string;
  space?: string;
  overwrite?: boolean;
  /** rewrite the data view title kontext-contexts* to <prefix>-contexts* */
  indexPrefix?: string;
  /** base URL of kontext's web UI, for the data view's links from a context id to its page */
  uiUrl?: string;
  auth?: { apiKey?: string; username?: string; password?: string };
  timeoutMs?: number;
}

export interface KibanaImportError { id: string; type: string; title?: string; error: { type: string; [k: string]: unknown } }
export interface KibanaImportResult { success: boolean; successCount: number; errors: KibanaImportError[] }

export class KibanaImportFailure extends Error {
  constructor(message: string) { super(message); this.name = 'KibanaImportFailure'; }
}

/** Points the data view at `<prefix>-contexts*` (only index-pattern objects change). */
export function withIndexPrefix(ndjson: string, prefix: string): string {
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(prefix)) throw new UsageError(`--index-prefix: ${JSON.stringify(prefix)} is not a valid index prefix`);
  return ndjson.split('\n').map((line) => {
    if (!line.trim()) return line;
    const o = JSON.parse(line);
    if (o.type !== 'index-pattern' || typeof o.attributes?.title !== 'string') return line;
    o.attributes.title = o.attributes.title.replace(/^kontext-/, `${prefix}-`);
    return JSON.stringify(o);
  }).join('\n');
}

/** The UI base URL the saved objects link to unless --ui-url says otherwise. */
export const DEFAULT_UI_URL = 'http://localhost:8080';

/** Points the data view's context links (`id` formatted as a URL) at kontext's web UI at `uiUrl`. */
export function withUiUrl(ndjson: string, uiUrl: string): string {
  let u: URL;
  try { u = new URL(uiUrl); } catch { throw new UsageError(`--ui-url: not a URL: ${JSON.stringify(uiUrl)}`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--ui-url: expected http(s), got ${u.protocol}`);
  const base = u.href.replace(/\/+$/, '');
  return ndjson.split('\n').map((line) => {
    if (!line.trim()) return line;
    const o = JSON.parse(line);
    if (o.type !== 'index-pattern' || typeof o.attributes?.fieldFormatMap !== 'string') return line;
    const formats = JSON.parse(o.attributes.fieldFormatMap);
    for (const f of Object.values(formats) as any[]) {
      const t = f?.params?.urlTemplate;
      if (f?.id === 'url' && typeof t === 'string' && t.startsWith(`${DEFAULT_UI_URL}/`)) f.params.urlTemplate = base + t.slice(DEFAULT_UI_URL.length);
    }
    o.attributes.fieldFormatMap = JSON.stringify(formats);
    return JSON.stringify(o);
  }).join('\n');
}

/** Checks the file is NDJSON of saved objects before anything is sent. */
export function checkNdjson(ndjson: string, source = 'saved objects file'): number {
  let n = 0;
  ndjson.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let o: any;
    try { o = JSON.parse(line); } catch (e) { throw new KibanaImportFailure(`${source}: line ${i + 1} is not JSON: ${(e as Error).message}`); }
    if (!o || typeof o.id !== 'string' || typeof o.type !== 'string' || typeof o.attributes !== 'object') {
      throw new KibanaImportFailure(`${source}: line ${i + 1} is not a saved object (needs id, type, attributes)`);
    }
    n++;
  });
  if (n === 0) throw new KibanaImportFailure(`${source}: no saved objects`);
  return n;
}

export async function importSavedObjects(opts: KibanaImportOptions): Promise<KibanaImportResult> {
  let base: URL;
  try { base = new URL(opts.url); } catch { throw new UsageError(`--url: not a URL: ${JSON.stringify(opts.url)}`); }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new UsageError(`--url: expected http(s), got ${base.protocol}`);
  if (opts.space !== undefined && !/^[a-z0-9_-]+$/.test(opts.space)) throw new UsageError(`--space: ${JSON.stringify(opts.space)} is not a space id (lowercase letters, digits, _ and -)`);
  let ndjson = opts.indexPrefix && opts.indexPrefix !== 'kontext' ? withIndexPrefix(opts.ndjson, opts.indexPrefix) : opts.ndjson;
  if (opts.uiUrl) ndjson = withUiUrl(ndjson, opts.uiUrl);
  checkNdjson(ndjson);

  const basePath = base.pathname.replace(/\/+$/, '');
  const spacePath = opts.space && opts.space !== 'default' ? `/s/${opts.space}` : '';
  const url = new URL(`${basePath}${spacePath}/api/saved_objects/_import`, base);
  if (opts.overwrite) url.searchParams.set('overwrite', 'true');

  const form = new FormData();
  form.append('file', new Blob([ndjson], { type: 'application/ndjson' }), 'kontext-saved-objects.ndjson');
  const headers: Record<string, string> = { 'kbn-xsrf': 'kontext' };
  if (opts.auth?.apiKey) headers.authorization = `ApiKey ${opts.auth.apiKey}`;
  else if (opts.auth?.username) headers.authorization = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password ?? ''}`).toString('base64')}`;

  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers, body: form, signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (e as Error).message;
    throw new KibanaImportFailure(`cannot reach Kibana at ${base.origin}${basePath}: ${why}`);
  }
  const text = await res.text();
  let body: any;
  try { body = JSON.parse(text); } catch { body = undefined; }
  if (res.status === 401 || res.status === 403) {
    throw new KibanaImportFailure(`Kibana refused the import (${res.status}): ${body?.message ?? text.slice(0, 200)}; pass --api-key or --username/--password with the saved objects privilege`);
  }
  if (res.status === 404) {
    throw new KibanaImportFailure(`Kibana answered 404 for ${url.pathname}: is ${base.href} Kibana${opts.space ? ` and does space ${JSON.stringify(opts.space)} exist` : ''}?`);
  }
  if (!res.ok || !body || typeof body.success !== 'boolean') {
    throw new KibanaImportFailure(`Kibana import failed (HTTP ${res.status}): ${body?.message ?? text.slice(0, 300)}`);
  }
  return { success: body.success, successCount: body.successCount ?? 0, errors: body.errors ?? [] };
}

function describeError(e: KibanaImportError): string {
  const what = `${e.type} ${JSON.stringify(e.title ?? e.id)}`;
  switch (e.error.type) {
    case 'conflict': return `${what} already exists (use --overwrite to replace it)`;
    case 'missing_references': return `${what} references objects missing in Kibana`;
    case 'unsupported_type': return `${what}: this Kibana does not support saved objects of type ${e.type}`;
    default: return `${what}: ${e.error.type}${e.error.message ? ` (${String(e.error.message)})` : ''}`;
  }
}

export const command: Command = {
  name: 'kibana',
  summary: 'Import the Kibana saved objects (data view, searches, visualizations, dashboard).',
  usage: '--url KIBANA_URL [--space ID] [--overwrite] [--file NDJSON]',
  description: [
    'Posts plugin/kibana/saved-objects.ndjson to Kibana\'s /api/saved_objects/_import. The data view',
    'targets <index-prefix>-contexts* with `start` as its time field; the dashboard is',
    '"kontext: Kubernetes audit contexts"; a context\'s id links to its page in kontext\'s web UI (--ui-url). Kibana credentials: --api-key, or --username/--password',
    '(or KIBANA_API_KEY, KIBANA_USERNAME, KIBANA_PASSWORD).',
  ].join('\n'),
  flags: [
    { flag: 'url', help: 'Kibana base URL, e.g. http://kibana:5601 [KIBANA_URL]' },
    { flag: 'file', help: 'saved objects NDJSON to import', default: 'plugin/kibana/saved-objects.ndjson' },
    { flag: 'space', help: 'Kibana space id (default space when omitted)' },
    { flag: 'overwrite', help: 'replace objects that already exist', boolean: true },
    { flag: 'index-prefix', help: 'index prefix the data view targets [KONTEXT_INDEX_PREFIX]', default: 'kontext' },
    { flag: 'ui-url', help: `kontext's web UI as Kibana users reach it: context ids link to <ui-url>/context/<id> [KONTEXT_UI_URL]`, default: DEFAULT_UI_URL },
    { flag: 'api-key', help: 'Kibana API key (base64 id:key) [KIBANA_API_KEY]' },
    { flag: 'username', help: 'Kibana user [KIBANA_USERNAME]' },
    { flag: 'password', help: 'Kibana password [KIBANA_PASSWORD]' },
  ],
  usesConfig: false,
  async run(args: ParsedArgs) {
    const f = args.flags;
    if (args.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
    const url = flagString(f, 'url') ?? process.env.KIBANA_URL;
    if (!url) throw new UsageError('--url is required (or set KIBANA_URL), e.g. --url http://localhost:5601');
    const file = flagString(f, 'file') ?? DEFAULT_FILE;
    let ndjson: string;
    try { ndjson = readFileSync(file, 'utf8'); } catch (e) {
      throw new UsageError(`--file: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    try {
      const result = await importSavedObjects({
        url,
        ndjson,
        space: flagString(f, 'space'),
        overwrite: f.overwrite === true,
        indexPrefix: flagString(f, 'index-prefix') ?? process.env.KONTEXT_INDEX_PREFIX ?? 'kontext',
        uiUrl: flagString(f, 'ui-url') ?? process.env.KONTEXT_UI_URL,
        auth: {
          apiKey: flagString(f, 'api-key') ?? process.env.KIBANA_API_KEY,
          username: flagString(f, 'username') ?? process.env.KIBANA_USERNAME,
          password: flagString(f, 'password') ?? process.env.KIBANA_PASSWORD,
        },
      });
      for (const e of result.errors) process.stderr.write(`  ${describeError(e)}\n`);
      if (!result.success) {
        process.stderr.write(`kontext kibana: imported ${result.successCount} objects, ${result.errors.length} failed\n`);
        return 1;
      }
      process.stdout.write(`imported ${result.successCount} saved objects into Kibana at ${url}${f.space ? ` (space ${String(f.space)})` : ''}; open Dashboards → "kontext: Kubernetes audit contexts"\n`);
      return 0;
    } catch (e) {
      if (e instanceof KibanaImportFailure) { process.stderr.write(`kontext kibana: ${e.message}\n`); return 1; }
      throw e;
    }
  },
};

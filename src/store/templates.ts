/**
 * Index templates from schema/elasticsearch/*.json, applied at start-up. Each file is the body
 * of a composable index template; `{{prefix}}` in it becomes the configured index prefix and
 * the template is named `<prefix>-<file name>` (contexts.json → `kontext-contexts`).
 *
 * Templates carry a `version`: at start-up a missing or older template is replaced in place
 * (and the indices it governs get its mappings added: additive changes only), a newer one
 * (written by a newer kontext sharing this Elasticsearch) is left alone with a warning.
 * The daily indices of contexts, members and dead letters carry read aliases
 * (`<prefix>-contexts`, `<prefix>-members`, `<prefix>-dead-letter`); a day index is created by
 * the first write to it. A single index left by an older
 * kontext under an alias' name is migrated into daily indices first (migrate.ts), and summaries
 * written before the ECS fields get them last (migrate-ecs.ts).
 * Shards, replicas and the ILM policy (retention.ts) are set from options over the files'
 * `settings`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@elastic/elasticsearch';
import { dayOf, indexNames } from './codec.ts';
import { copyMigratedIndices, detachLegacyIndices } from './migrate.ts';
import { migrateEcsFields } from './migrate-ecs.ts';
import { log } from '../util/log.ts';

export const SCHEMA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schema/elasticsearch');

export interface TemplateOptions {
  /** directory of template files (default schema/elasticsearch) */
  dir?: string;
  /** index settings merged over every template's `template.settings.index`, e.g. { refresh_interval: '5s' } */
  settings?: Record<string, unknown>;
  /** replicas: a count ("1") or an auto-expand range ("0-1", "0-all"); default: the files' setting */
  replicas?: string | number;
  /** primary shards of new indices; default: the files' setting */
  shards?: number;
  /** ILM policy name set on new indices (retention.ts creates it) */
  lifecyclePolicy?: string;
  /**
   * create today's contexts, members and dead-letter indices when their alias does not exist
   * (default false: the first write creates its day index; readers search the aliases and
   * patterns with ignore_unavailable, so an empty store reads as empty)
   */
  createContextsIndex?: boolean;
}

export interface LoadedTemplate { name: string; body: Record<string, any> }

/** The index settings for a replicas option: a count, or an auto-expand range. */
export function replicaSettings(replicas: string | number): Record<string, unknown> {
  const s = String(replicas).trim();
  if (/^\d+$/.test(s)) return { number_of_replicas: Number(s), auto_expand_replicas: false };
  if (/^\d+-(\d+|all)$/.test(s)) return { auto_expand_replicas: s };
  throw new Error(`index replicas ${JSON.stringify(replicas)} is not valid: use a number (1) or a range (0-1, 0-all)`);
}

/** Reads and instantiates the template files for a prefix (no Elasticsearch calls). */
export function loadTemplates(prefix: string, opts: TemplateOptions = {}): LoadedTemplate[] {
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(prefix)) {
    throw new Error(`index prefix ${JSON.stringify(prefix)} is not valid: use lowercase letters, digits, '.', '_' or '-'`);
  }
  const dir = opts.dir ?? SCHEMA_DIR;
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  if (!files.length) throw new Error(`no index templates (*.json) in ${dir}`);
  const overrides: Record<string, unknown> = {
    ...(opts.replicas !== undefined ? replicaSettings(opts.replicas) : {}),
    ...(opts.shards !== undefined ? { number_of_shards: opts.shards } : {}),
    ...(opts.lifecyclePolicy ? { 'lifecycle.name': opts.lifecyclePolicy } : {}),
    ...(opts.settings ?? {}),
  };
  return files.map((f) => {
    const text = readFileSync(path.join(dir, f), 'utf8').replaceAll('{{prefix}}', prefix);
    let body: Record<string, any>;
    try { body = JSON.parse(text); } catch (e) {
      throw new Error(`index template ${path.join(dir, f)} is not valid JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(body.index_patterns)) throw new Error(`index template ${path.join(dir, f)} has no index_patterns`);
    if (!Number.isInteger(body.version)) throw new Error(`index template ${path.join(dir, f)} has no integer "version"`);
    if (Object.keys(overrides).length) {
      body.template ??= {};
      body.template.settings ??= {};
      const index = { ...(body.template.settings.index ?? {}), ...overrides };
      if (index.auto_expand_replicas && index.auto_expand_replicas !== false) delete index.number_of_replicas;
      if (index.auto_expand_replicas === false) delete index.auto_expand_replicas;
      body.template.settings.index = index;
    }
    return { name: `${prefix}-${f.slice(0, -'.json'.length)}`, body };
  });
}

/** Version of an installed template, undefined when there is none (or it has no version). */
async function installedVersion(client: Client, name: string): Promise<{ exists: boolean; version?: number }> {
  try {
    const res: any = await client.indices.getIndexTemplate({ name });
    const t = res.index_templates?.find((x: any) => x.name === name);
    return t ? { exists: true, version: t.index_template?.version } : { exists: false };
  } catch (e: any) {
    if ((e?.meta?.statusCode ?? e?.statusCode) === 404) return { exists: false };
    throw e;
  }
}

/** Puts every template for `prefix` whose installed version is missing or older; returns what it did per template. */
export async function putTemplates(client: Client, templates: LoadedTemplate[]): Promise<Record<string, 'created' | 'upgraded' | 'replaced' | 'newer-kept'>> {
  const out: Record<string, 'created' | 'upgraded' | 'replaced' | 'newer-kept'> = {};
  for (const t of templates) {
    const have = await installedVersion(client, t.name);
    const want = t.body.version as number;
    if (have.exists && have.version !== undefined && have.version > want) {
      log.warn('index template in Elasticsearch is newer than this kontext; leaving it in place', { template: t.name, installed: have.version, shipped: want });
      out[t.name] = 'newer-kept';
      continue;
    }
    await client.indices.putIndexTemplate({ name: t.name, ...t.body } as any);
    if (!have.exists) out[t.name] = 'created';
    else if (have.version === undefined || have.version < want) {
      out[t.name] = 'upgraded';
      log.info('index template upgraded in place', { template: t.name, from: have.version ?? null, to: want });
    } else out[t.name] = 'replaced'; // same version: settings from options may differ
  }
  return out;
}

/** Applies every template for `prefix` and readies the indices; safe to call on every start. */
export async function ensureIndexTemplates(client: Client, prefix: string, opts: TemplateOptions = {}): Promise<void> {
  const templates = loadTemplates(prefix, opts);
  await detachLegacyIndices(client, prefix);
  await putTemplates(client, templates);
  const names = indexNames(prefix);
  await copyMigratedIndices(client, prefix);
  const today = dayOf(Date.now());
  for (const [file, alias, day] of [['contexts', names.contexts, names.contextsDay(today)], ['members', names.members, names.membersDay(today)], ['dead-letter', names.deadLetter, names.deadLetterDay(today)]] as const) {
    const t = templates.find((x) => x.name === `${prefix}-${file}`);
    if (t) await ensureAliasedIndices(client, alias, day, t, opts);
  }
  // summaries written before the ECS fields get them, now that every day index maps them; they
  // are derived data, so a failure does not stop the start (the next start or `kontext migrate`
  // resumes where this one stopped)
  try {
    await migrateEcsFields(client, prefix);
  } catch (e) {
    log.warn('ECS fields could not be added to older context summaries; the next start or `kontext migrate` resumes', { err: e as Error });
  }
}

async function ensureAliasedIndices(client: Client, alias: string, today: string, t: LoadedTemplate, opts: TemplateOptions): Promise<void> {
  const exists = await client.indices.existsAlias({ name: alias });
  if (!exists) {
    if (opts.createContextsIndex !== true) return;
    try {
      await client.indices.create({ index: today });
    } catch (e: any) {
      if (e?.body?.error?.type !== 'resource_already_exists_exception' && e?.meta?.body?.error?.type !== 'resource_already_exists_exception') throw e;
    }
    await client.cluster.health({ index: today, wait_for_status: 'yellow', timeout: '30s' }).catch(() => {});
    return;
  }
  // every index behind the alias gets the current template's mappings (additive) and replica / ILM settings
  const mappings = t.body.template?.mappings;
  if (mappings?.properties) {
    try {
      await client.indices.putMapping({ index: alias, properties: mappings.properties, dynamic: mappings.dynamic });
    } catch (e) {
      log.warn('index mapping could not be updated to the current schema; new fields may not be searchable until reindexed', { index: alias, err: e as Error });
    }
  }
  const s = t.body.template?.settings?.index ?? {};
  const dynamic: Record<string, unknown> = {};
  for (const k of ['number_of_replicas', 'auto_expand_replicas', 'lifecycle.name']) if (s[k] !== undefined) dynamic[k] = s[k];
  if (Object.keys(dynamic).length) {
    try {
      await client.indices.putSettings({ index: alias, settings: { index: dynamic } });
    } catch (e) {
      log.warn('index settings (replicas, lifecycle) could not be applied to existing indices', { index: alias, err: e as Error });
    }
  }
}

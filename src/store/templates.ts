/**
 * Index templates from schema/elasticsearch/*.json, applied at start-up. Each file is the body
 * of a composable index template; `{{prefix}}` in it becomes the configured index prefix and
 * the template is named `<prefix>-<file name>` (contexts.json → `kontext-contexts`).
 * Applying is idempotent (PUT replaces the template). The contexts, members and dead-letter
 * indices are created if missing, and existing ones get the template's mappings added (additive changes only),
 * so readers never meet index_not_found and an upgraded schema reaches a live index.
 * Shards, replicas and codec live in the files' `settings` and can be edited there or
 * overridden per call (`settings`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@elastic/elasticsearch';
import { indexNames } from './codec.ts';
import { log } from '../util/log.ts';

export const SCHEMA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schema/elasticsearch');

export interface TemplateOptions {
  /** directory of template files (default schema/elasticsearch) */
  dir?: string;
  /** index settings merged over every template's `template.settings.index`, e.g. { number_of_replicas: 1 } */
  settings?: Record<string, unknown>;
  /** create the contexts, members and dead-letter indices when they do not exist (default true) */
  createContextsIndex?: boolean;
}

export interface LoadedTemplate { name: string; body: Record<string, any> }

/** Reads and instantiates the template files for a prefix (no Elasticsearch calls). */
export function loadTemplates(prefix: string, opts: TemplateOptions = {}): LoadedTemplate[] {
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(prefix)) {
    throw new Error(`index prefix ${JSON.stringify(prefix)} is not valid: use lowercase letters, digits, '.', '_' or '-'`);
  }
  const dir = opts.dir ?? SCHEMA_DIR;
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  if (!files.length) throw new Error(`no index templates (*.json) in ${dir}`);
  return files.map((f) => {
    const text = readFileSync(path.join(dir, f), 'utf8').replaceAll('{{prefix}}', prefix);
    let body: Record<string, any>;
    try { body = JSON.parse(text); } catch (e) {
      throw new Error(`index template ${path.join(dir, f)} is not valid JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(body.index_patterns)) throw new Error(`index template ${path.join(dir, f)} has no index_patterns`);
    if (opts.settings) {
      body.template ??= {};
      body.template.settings ??= {};
      body.template.settings.index = { ...(body.template.settings.index ?? {}), ...opts.settings };
    }
    return { name: `${prefix}-${f.slice(0, -'.json'.length)}`, body };
  });
}

/** Applies every template for `prefix`; safe to call on every start. */
export async function ensureIndexTemplates(client: Client, prefix: string, opts: TemplateOptions = {}): Promise<void> {
  const templates = loadTemplates(prefix, opts);
  for (const t of templates) {
    await client.indices.putIndexTemplate({ name: t.name, ...t.body } as any);
  }
  const names = indexNames(prefix);
  // the indices readers and the writer address by name: created up front, so nobody meets
  // index_not_found, and an existing one gets the template's mappings added (additive only)
  for (const [file, index] of [['contexts', names.contexts], ['members', names.members], ['dead-letter', names.deadLetter]] as const) {
    const t = templates.find((x) => x.name === `${prefix}-${file}`);
    if (t) await ensureIndex(client, index, t, opts);
  }
}

async function ensureIndex(client: Client, index: string, t: LoadedTemplate, opts: TemplateOptions): Promise<void> {
  const exists = await client.indices.exists({ index });
  if (!exists) {
    if (opts.createContextsIndex === false) return;
    try {
      await client.indices.create({ index });
    } catch (e: any) {
      if (e?.body?.error?.type !== 'resource_already_exists_exception' && e?.meta?.body?.error?.type !== 'resource_already_exists_exception') throw e;
    }
    await client.cluster.health({ index, wait_for_status: 'yellow', timeout: '30s' }).catch(() => {});
    return;
  }
  const mappings = t.body.template?.mappings;
  if (mappings?.properties) {
    try {
      await client.indices.putMapping({ index, properties: mappings.properties, dynamic: mappings.dynamic });
    } catch (e) {
      log.warn('index mapping could not be updated to the current schema; new fields may not be searchable until reindexed', { index, err: e as Error });
    }
  }
}

/**
 * Migration of context summaries written before the ECS fields (ecs.ts) existed, or with the
 * ECS block of another ECS version: each gets the block derived from its own fields. Client-side
 * (a paged search + bulk rewrite: the store uses no scripts, and the integration-test
 * Elasticsearch has no painless), run at start-up after the templates are upgraded in place
 * (so the new fields are mapped on every day index before a document is rewritten) and by
 * `kontext migrate`.
 *
 * Idempotent and resumable: each page is the summaries still without this ECS version, in id
 * order; a summary is rewritten at its own version (`external_gte`: the version scheme of the
 * writer, `2 × eventCount + closed`, is kept), so a newer write by a running kontext (which
 * carries the block already) is never replaced: it answers 409 and is skipped. Every other field
 * of the stored source (members of the embedded layout included) is kept as it is.
 */
import type { Client } from '@elastic/elasticsearch';
import { indexNames } from './codec.ts';
import { searchPages } from './pages.ts';
import { ECS_VERSION, ecsFieldsOf, stripEcs } from './ecs.ts';
import { log as rootLog } from '../util/log.ts';

const log = rootLog.child({ stage: 'migrate' });

export interface EcsMigrateProgress {
  /** summaries without the ECS fields of this version when the run began */
  total: number;
  /** summaries rewritten with them */
  migrated: number;
  /** summaries a newer write replaced meanwhile (left as they are) */
  skipped: number;
}

/** Summaries that lack the ECS block of this version. */
const WITHOUT_ECS = { bool: { must_not: [{ term: { 'ecs.version': ECS_VERSION } }] } };

export async function countWithoutEcs(client: Client, prefix: string): Promise<number> {
  const r = await client.count({ index: indexNames(prefix).contexts, query: WITHOUT_ECS, ignore_unavailable: true, allow_no_indices: true });
  return r.count;
}

/** Adds the ECS fields to every stored summary without them; the templates must be current (ensureIndexTemplates). */
export async function migrateEcsFields(client: Client, prefix: string, opts: { pageSize?: number; refresh?: boolean | 'wait_for'; onProgress?: (p: EcsMigrateProgress) => void } = {}): Promise<EcsMigrateProgress> {
  const index = indexNames(prefix).contexts;
  const p: EcsMigrateProgress = { total: await countWithoutEcs(client, prefix), migrated: 0, skipped: 0 };
  if (!p.total) return p;
  log.info('adding ECS fields to context summaries written before them', { index, summaries: p.total });
  opts.onProgress?.(p);
  const size = opts.pageSize ?? 1000;
  for await (const hits of searchPages(client, { index, size, version: true, query: WITHOUT_ECS, sort: [{ id: 'asc' }] })) {
    const ops: unknown[] = [];
    for (const h of hits) {
      const src = stripEcs(h._source ?? {});
      ops.push({ index: { _index: h._index, _id: h._id, version: Math.max(1, h._version ?? 1), version_type: 'external_gte' } }, { ...src, ...ecsFieldsOf(src) });
    }
    const r = await client.bulk({ operations: ops, refresh: opts.refresh });
    for (const it of r.items) {
      const x = it.index!;
      if (x.status >= 200 && x.status < 300) p.migrated++;
      else if (x.status === 409) p.skipped++;
      else throw new Error(`adding ECS fields stopped at summary ${x._id} (it resumes at the next start or \`kontext migrate\`): ${x.error?.type ?? x.status}: ${x.error?.reason ?? ''}`);
    }
    opts.onProgress?.(p);
  }
  // searchable by the ECS fields (and not counted again by a second run) from now on
  await client.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
  log.info('ECS fields added to context summaries', { index, migrated: p.migrated, skipped: p.skipped });
  return p;
}

/**
 * Migration of the single-index layout (one `<prefix>-contexts`, `<prefix>-members` and
 * `<prefix>-dead-letter` index, as kontext wrote before daily indices) into daily indices,
 * at start-up, before anything writes. Per kind:
 *
 *  1. the old index is made read-only and cloned to `<prefix>-migrating-<kind>` (a clone is
 *     fast: it hard-links segments), then deleted, which frees its name for the read alias;
 *  2. every document of the clone is written to the daily index a new write would pick (a summary
 *     still carrying its members, from before member documents, is split into member documents)
 *     (codec.ts: a summary by its start, a member by its time, a dead letter by its time),
 *     summaries with their stored version (`external_gte`), members and dead letters with
 *     `create` (a document already there is kept);
 *  3. the clone is deleted.
 *
 * A migration interrupted at any step resumes at the next start (the clone is the source of
 * truth until it is deleted; writes of step 2 are idempotent).
 */
import type { Client } from '@elastic/elasticsearch';
import { contextIndexOf, dayOf, memberIndexOf, toEsMember } from './codec.ts';
import { log as rootLog } from '../util/log.ts';

const log = rootLog.child({ stage: 'migrate' });
const PAGE = 2000;

type Kind = 'contexts' | 'members' | 'dead-letter';
const KINDS: readonly Kind[] = ['contexts', 'members', 'dead-letter'];

function targetOf(prefix: string, kind: Kind, src: any): string {
  if (kind === 'contexts') return contextIndexOf(prefix, { start: Number(src?.start) });
  if (kind === 'members') return memberIndexOf(prefix, { time: Number(src?.time) });
  return `${prefix}-dead-letter-${dayOf(Number(src?.time))}`;
}

/** Is `name` a concrete index (not an alias, not missing)? */
async function isConcreteIndex(client: Client, name: string): Promise<boolean> {
  if (!(await client.indices.exists({ index: name }))) return false;
  return !(await client.indices.existsAlias({ name }));
}

/**
 * Step 1 for every kind: the old single index is cloned aside and deleted, which frees its
 * name for the read alias. Runs before the templates are put (Elasticsearch refuses a
 * template whose alias is the name of an existing index).
 */
export async function detachLegacyIndices(client: Client, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const kind of KINDS) {
    const legacy = `${prefix}-${kind}`;
    const tmp = `${prefix}-migrating-${kind}`;
    if (!(await isConcreteIndex(client, legacy))) continue;
    if (!(await client.indices.exists({ index: tmp }))) {
      log.info('migrating a single-index layout into daily indices', { index: legacy });
      await client.indices.putSettings({ index: legacy, settings: { 'index.blocks.write': true } });
      await client.indices.clone({ index: legacy, target: tmp, wait_for_active_shards: 1 } as any);
      await client.cluster.health({ index: tmp, wait_for_status: 'yellow', timeout: '60s' });
    }
    // the clone holds every document (the old index was read-only before it was cloned)
    await client.indices.delete({ index: legacy });
    out.push(legacy);
  }
  return out;
}

/** Steps 2 and 3 for every kind with a clone left by step 1; returns the documents moved per kind. */
export async function copyMigratedIndices(client: Client, prefix: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const kind of KINDS) {
    if (await client.indices.exists({ index: `${prefix}-migrating-${kind}` })) out[kind] = await copyKind(client, prefix, kind);
  }
  return out;
}

/** The whole migration (templates must be put between the steps: ensureIndexTemplates does). */
export async function migrateLegacyIndices(client: Client, prefix: string): Promise<Record<string, number>> {
  await detachLegacyIndices(client, prefix);
  return copyMigratedIndices(client, prefix);
}

async function copyKind(client: Client, prefix: string, kind: Kind): Promise<number> {
  const legacy = `${prefix}-${kind}`;
  const tmp = `${prefix}-migrating-${kind}`;
  let moved = 0;
  let res: any = await client.search({ index: tmp, scroll: '2m', size: PAGE, version: true, query: { match_all: {} }, sort: ['_doc'] });
  try {
    for (;;) {
      const hits: any[] = res.hits.hits;
      if (!hits.length) break;
      const ops: unknown[] = [];
      for (const h of hits) {
        const _index = targetOf(prefix, kind, h._source);
        if (kind === 'contexts') {
          // a summary of the layout before member documents carries its members: they become
          // member documents (create: one stored before is kept) and the summary is stored without them
          const { members, memberIds: _ids, ...summary } = h._source ?? {};
          if (Array.isArray(members)) for (const m of members) ops.push({ create: { _index: memberIndexOf(prefix, { time: Number(m?.time) }), _id: m.auditID } }, toEsMember(h._id, m));
          ops.push({ index: { _index, _id: h._id, version: Math.max(1, h._version ?? 1), version_type: 'external_gte' } }, Array.isArray(members) ? summary : h._source);
        }
        else ops.push({ create: { _index, _id: h._id } }, h._source);
      }
      const r = await client.bulk({ operations: ops });
      for (const it of r.items) {
        const x = (it.index ?? it.create)!;
        if (x.status >= 200 && x.status < 300) moved++;
        else if (x.status !== 409) throw new Error(`migration of ${legacy} stopped (it resumes at the next start): ${x.error?.type ?? x.status}: ${x.error?.reason ?? ''}`);
      }
      res = await client.scroll({ scroll_id: res._scroll_id, scroll: '2m' });
    }
  } finally {
    if (res?._scroll_id) await client.clearScroll({ scroll_id: res._scroll_id }).catch(() => {});
  }
  await client.indices.refresh({ index: legacy, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
  await client.indices.delete({ index: tmp });
  log.info('single-index layout migrated into daily indices', { index: legacy, documents: moved });
  return moved;
}

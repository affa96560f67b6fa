/**
 * Migration to cluster-scoped ids: documents stored before kontext knew clusters have
 * `_id` = the bare auditID and no `cluster`. Each is rewritten in its own day index as the
 * given cluster's (`--cluster-name` of the kontext that runs it): summaries get
 * `_id`/`id` = `<cluster>/<id>` and `cluster`; members get `_id` = `<cluster>/<auditID>`,
 * `contextId` scoped the same way, `cluster` (and their `auditID`, now indexed); the old
 * document is then deleted. Members go first, so a summary is never scoped before its
 * members can be found under its new id.
 *
 * Idempotent and resumable: each round reads the documents still without `cluster`, writes
 * the scoped copy (a summary at its own version, `external_gte`, so a newer write is never
 * replaced; a member with `create`, so one already stored is kept) and deletes the old one;
 * an interrupted run continues at the next start. Runs at every start-up (nothing to do
 * once done: one count per kind) and as `kontext migrate`.
 */
import type { Client } from '@elastic/elasticsearch';
import { indexNames, toEsDoc, type EsContextSource } from './codec.ts';
import { scopedId, splitScopedId } from '../clusters/names.ts';
import { log as rootLog } from '../util/log.ts';

const log = rootLog.child({ stage: 'store' });
const UNSCOPED = { bool: { must_not: { exists: { field: 'cluster' } } } };
const PAGE = 1000;

export interface ClusterMigration { contexts: number; members: number }

/** an id stored before clusters scoped to `cluster` (one that already names a cluster is kept) */
function scoped(cluster: string, id: string): string {
  return id.indexOf('/') > 0 && splitScopedId(id).id !== id ? id : scopedId(cluster, id);
}

/** Documents of an alias still without a cluster. */
async function countUnscoped(client: Client, index: string): Promise<number> {
  try {
    return (await client.count({ index, query: UNSCOPED, ignore_unavailable: true, allow_no_indices: true })).count;
  } catch (e) {
    if ((e as { meta?: { statusCode?: number } }).meta?.statusCode === 404) return 0;
    throw e;
  }
}

async function migrateKind(client: Client, index: string, kind: 'contexts' | 'members', cluster: string, onProgress?: (n: number) => void): Promise<number> {
  let moved = 0;
  for (;;) {
    const res: any = await client.search({ index, size: PAGE, version: true, seq_no_primary_term: false, query: UNSCOPED, ignore_unavailable: true, allow_no_indices: true });
    const hits: any[] = res.hits.hits;
    if (!hits.length) return moved;
    const ops: unknown[] = [];
    for (const h of hits) {
      const src = h._source ?? {};
      if (kind === 'contexts') {
        const id = scoped(cluster, String(h._id));
        // through the codec: the ECS block is derived afresh, now with orchestrator.cluster.name
        ops.push({ index: { _index: h._index, _id: id, version: Math.max(1, h._version ?? 1), version_type: 'external_gte' } }, toEsDoc({ ...(src as EsContextSource), id, cluster }));
      } else {
        const auditID = typeof src.auditID === 'string' ? src.auditID : String(h._id);
        const contextId = typeof src.contextId === 'string' ? scoped(cluster, src.contextId) : src.contextId;
        ops.push({ create: { _index: h._index, _id: scoped(cluster, String(h._id)) } }, { ...src, contextId, cluster, auditID });
      }
    }
    const r = await client.bulk({ operations: ops, refresh: false });
    const deletes: unknown[] = [];
    r.items.forEach((it, k) => {
      const x = (it.index ?? it.create)!;
      const h = hits[k]!;
      // 409: the scoped copy is there already (an earlier, interrupted run) or newer
      if ((x.status >= 200 && x.status < 300) || x.status === 409) {
        if (x._id !== h._id) deletes.push({ delete: { _index: h._index, _id: h._id } });
        moved++;
      } else throw new Error(`migration of ${index} to cluster-scoped ids stopped (it resumes at the next start): ${x.error?.type ?? x.status}: ${x.error?.reason ?? ''}`);
    });
    if (deletes.length) await client.bulk({ operations: deletes, refresh: false });
    await client.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true });
    onProgress?.(moved);
  }
}

/**
 * Scopes every document stored before clusters to `cluster`; returns how many of each kind
 * were moved (0 and 0 once done).
 */
export async function migrateToClusterIds(client: Client, prefix: string, cluster: string, opts: { onProgress?: (kind: string, n: number) => void } = {}): Promise<ClusterMigration> {
  const names = indexNames(prefix);
  const out: ClusterMigration = { contexts: 0, members: 0 };
  const todo = { members: await countUnscoped(client, names.members), contexts: await countUnscoped(client, names.contexts) };
  if (!todo.members && !todo.contexts) return out;
  log.info('moving documents stored before clusters to cluster-scoped ids', { cluster, ...todo });
  out.members = await migrateKind(client, names.members, 'members', cluster, (n) => opts.onProgress?.('members', n));
  out.contexts = await migrateKind(client, names.contexts, 'contexts', cluster, (n) => opts.onProgress?.('contexts', n));
  log.info('documents moved to cluster-scoped ids', { cluster, ...out });
  return out;
}

/**
 * Reading stored contexts back: members of contexts (a point-in-time scan of the members
 * index, any size), summaries by id, and the owner of auditIDs (realtime gets). Used by the
 * writer to resolve conflicts, by start-up restore and the sweeper, and by queries.
 */
import type { Client } from '@elastic/elasticsearch';
import type { ContextMember } from '../types/context.ts';
import { fromEsMember, indexNames, type EsContextSource, type EsMemberSource } from './codec.ts';

const PAGE = 10_000;

/** Every member document matching `query` (default: all), in index order, page by page. */
export async function* scanMembers(client: Client, prefix: string, query: Record<string, unknown>): AsyncGenerator<EsMemberSource[]> {
  const index = indexNames(prefix).members;
  const pit = await client.openPointInTime({ index, keep_alive: '1m', ignore_unavailable: true } as any);
  let after: unknown[] | undefined;
  try {
    for (;;) {
      const res: any = await client.search({
        pit: { id: pit.id, keep_alive: '1m' }, size: PAGE, query, sort: [{ _shard_doc: 'asc' }],
        ...(after ? { search_after: after } : {}),
      } as any);
      const hits: any[] = res.hits.hits;
      if (!hits.length) return;
      yield hits.map((h) => h._source as EsMemberSource);
      if (hits.length < PAGE) return;
      after = hits[hits.length - 1].sort;
    }
  } finally {
    await client.closePointInTime({ id: pit.id }).catch(() => {});
  }
}

/** Members of each context id (sorted by time, auditID). */
export async function membersOf(client: Client, prefix: string, contextIds: string[]): Promise<Map<string, ContextMember[]>> {
  const out = new Map<string, ContextMember[]>();
  for (const id of contextIds) out.set(id, []);
  for (let i = 0; i < contextIds.length; i += 1000) {
    const chunk = contextIds.slice(i, i + 1000);
    for await (const page of scanMembers(client, prefix, { terms: { contextId: chunk } })) {
      for (const m of page) out.get(m.contextId)?.push(fromEsMember(m));
    }
  }
  for (const list of out.values()) list.sort((a, b) => a.time - b.time || (a.auditID < b.auditID ? -1 : a.auditID > b.auditID ? 1 : 0));
  return out;
}

/** The context id holding each auditID (realtime: sees writes not yet refreshed); absent = not stored. */
export async function ownersOf(client: Client, prefix: string, auditIDs: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const index = indexNames(prefix).members;
  for (let i = 0; i < auditIDs.length; i += 1000) {
    const res = await client.mget<EsMemberSource>({ index, ids: auditIDs.slice(i, i + 1000), _source_includes: ['contextId'] });
    for (const d of res.docs as any[]) if (d.found) out.set(d._id, d._source.contextId);
  }
  return out;
}

/** Stored summaries with their versions (realtime). */
export async function summariesOf(client: Client, prefix: string, ids: string[]): Promise<Map<string, { doc: EsContextSource; version: number }>> {
  const out = new Map<string, { doc: EsContextSource; version: number }>();
  const index = indexNames(prefix).contexts;
  for (let i = 0; i < ids.length; i += 1000) {
    const res = await client.mget<EsContextSource>({ index, ids: ids.slice(i, i + 1000) });
    for (const d of res.docs as any[]) if (d.found) out.set(d._id, { doc: d._source, version: d._version });
  }
  return out;
}

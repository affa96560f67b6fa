/**
 * Reading stored contexts back: members of contexts (a point-in-time scan of every members
 * index, any size), summaries by id, and the owner of auditIDs (realtime gets). Used by the
 * writer to resolve conflicts, by start-up restore and the sweeper, and by queries.
 */
import type { Client } from '@elastic/elasticsearch';
import type { ContextMember } from '../types/context.ts';
import { contextIndexOf, fromEsMember, indexNames, memberIdOf, memberIndexOf, type EsContextSource, type EsMemberSource } from './codec.ts';
import { stripEcs } from './ecs.ts';
import { searchPages } from './pages.ts';

const PAGE = 10_000;

/** Every member document matching `query` (default: all), in index order, page by page. */
export async function* scanMembers(client: Client, prefix: string, query: Record<string, unknown>): AsyncGenerator<EsMemberSource[]> {
  for await (const hits of searchPages(client, { index: indexNames(prefix).members, query, size: PAGE, pointInTime: '1m' })) {
    yield hits.map((h) => h._source as EsMemberSource);
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

/**
 * The context id holding each auditID of `cluster` (default: the default cluster), keyed by
 * the auditID; absent = not stored. An auditID given with its event time is looked up in its
 * day index by a realtime get (sees writes not yet refreshed); a bare auditID is searched for
 * across every members index (sees refreshed writes only).
 */
export async function ownersOf(client: Client, prefix: string, auditIDs: Array<string | { auditID: string; time: number }>, cluster?: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const names = indexNames(prefix);
  const bare = new Map<string, string>();
  const timed: Array<{ _index: string; _id: string }> = [];
  const timedIds: string[] = [];
  for (const a of auditIDs) {
    if (typeof a === 'string') bare.set(memberIdOf(cluster, a), a);
    else { timed.push({ _index: memberIndexOf(prefix, a), _id: memberIdOf(cluster, a.auditID) }); timedIds.push(a.auditID); }
  }
  for (let i = 0; i < timed.length; i += 1000) {
    const res = await client.mget<EsMemberSource>({ docs: timed.slice(i, i + 1000), _source_includes: ['contextId'] });
    (res.docs as any[]).forEach((d, k) => { if (d.found) out.set(timedIds[i + k]!, d._source.contextId); });
  }
  const ids = [...bare.keys()];
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const res: any = await client.search({ index: names.membersPattern, ignore_unavailable: true, allow_no_indices: true, size: chunk.length, query: { ids: { values: chunk } }, _source: ['contextId'] });
    for (const h of res.hits.hits) out.set(bare.get(h._id) ?? h._id, h._source.contextId);
  }
  return out;
}

/**
 * Stored summaries with their versions and indices. A context id given with its start is read
 * from its day index (realtime); one not found there, or a bare id, is searched for across
 * every contexts index (refreshed writes only). Without the ECS block (the writer derives it afresh).
 */
export async function summariesOf(client: Client, prefix: string, ids: Array<string | { id: string; start: number }>): Promise<Map<string, { doc: EsContextSource; version: number; index?: string }>> {
  const out = new Map<string, { doc: EsContextSource; version: number; index?: string }>();
  const names = indexNames(prefix);
  const timed: Array<{ _index: string; _id: string }> = [];
  const rest: string[] = [];
  for (const x of ids) {
    if (typeof x === 'string') rest.push(x);
    else timed.push({ _index: contextIndexOf(prefix, x), _id: x.id });
  }
  for (let i = 0; i < timed.length; i += 1000) {
    const res = await client.mget<EsContextSource>({ docs: timed.slice(i, i + 1000) });
    for (const d of res.docs as any[]) {
      if (d.found) out.set(d._id, { doc: stripEcs(d._source), version: d._version, index: d._index });
      else rest.push(d._id);
    }
  }
  for (let i = 0; i < rest.length; i += 1000) {
    const chunk = rest.slice(i, i + 1000);
    const res: any = await client.search({ index: names.contextsPattern, ignore_unavailable: true, allow_no_indices: true, size: chunk.length, version: true, query: { ids: { values: chunk } } });
    for (const h of res.hits.hits) {
      const had = out.get(h._id);
      if (!had || h._version > had.version) out.set(h._id, { doc: stripEcs(h._source), version: h._version, index: h._index });
    }
  }
  return out;
}

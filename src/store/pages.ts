/**
 * Paging through a search of any size: `search_after` on the request's sort, a page at a
 * time, until a short page (or `maxPages`). With `pointInTime`, the pages come from one
 * point-in-time view of the index (sorted by `_shard_doc`), so documents written meanwhile
 * neither appear nor shift the pages; without it, each page is a fresh search, which is
 * what a rewrite loop wants (documents it rewrote out of the query's match are not seen
 * again, the sort keeps its place among the rest).
 */
import type { Client } from '@elastic/elasticsearch';

export interface PagedSearch {
  index: string;
  query: Record<string, unknown>;
  /** the sort `search_after` continues on (must end in a unique field); ignored with `pointInTime` */
  sort?: unknown[];
  /** hits per page */
  size: number;
  /** stop after this many pages (default: every page) */
  maxPages?: number;
  /** hits carry `_version` */
  version?: boolean;
  _source?: unknown;
  /** keep-alive of a point-in-time view (e.g. '1m'): one consistent view for the whole scan */
  pointInTime?: string;
}

/** The hits of `q`, page by page (each page a non-empty array of raw hits). */
export async function* searchPages(client: Client, q: PagedSearch): AsyncGenerator<any[]> {
  const pit = q.pointInTime
    ? await client.openPointInTime({ index: q.index, keep_alive: q.pointInTime, ignore_unavailable: true } as any)
    : undefined;
  const where = pit
    ? { pit: { id: pit.id, keep_alive: q.pointInTime }, sort: [{ _shard_doc: 'asc' }] }
    : { index: q.index, ignore_unavailable: true, allow_no_indices: true, sort: q.sort };
  let after: unknown[] | undefined;
  try {
    for (let page = 0; page < (q.maxPages ?? Infinity); page++) {
      const res: any = await client.search({
        ...where, size: q.size, query: q.query,
        ...(q.version ? { version: true } : {}),
        ...(q._source !== undefined ? { _source: q._source } : {}),
        ...(after ? { search_after: after } : {}),
      } as any);
      const hits: any[] = res.hits.hits;
      if (!hits.length) return;
      yield hits;
      if (hits.length < q.size) return;
      after = hits[hits.length - 1].sort;
    }
  } finally {
    if (pit) await client.closePointInTime({ id: pit.id }).catch(() => {});
  }
}

/**
 * Opaque cursors for `contexts(after:)`: base64url JSON of the sort name and the
 * Elasticsearch sort values of the last hit (search_after). Validated on the way back in.
 */
import { userError } from './errors.ts';

export type SortName = 'START_DESC' | 'START_ASC' | 'EVENT_COUNT_DESC';

/** Sort clauses per sort name; the last clause (`id`) makes the order total. */
export const SORTS: Record<SortName, Array<Record<string, 'asc' | 'desc'>>> = {
  START_DESC: [{ start: 'desc' }, { id: 'desc' }],
  START_ASC: [{ start: 'asc' }, { id: 'asc' }],
  EVENT_COUNT_DESC: [{ eventCount: 'desc' }, { start: 'desc' }, { id: 'desc' }],
};

export type SortValues = Array<number | string>;

const MAX_CURSOR = 1024;

export function encodeCursor(sort: SortName, values: SortValues): string {
  return Buffer.from(JSON.stringify({ s: sort, v: values }), 'utf8').toString('base64url');
}

/** Sort values for search_after; throws a clear error for anything not made by encodeCursor for this sort. */
export function decodeCursor(cursor: string, sort: SortName): SortValues {
  const bad = (why: string) => userError(`invalid cursor: ${why}; use pageInfo.endCursor or an edge's cursor from the same query`);
  if (cursor.length === 0 || cursor.length > MAX_CURSOR || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad('not a cursor');
  let parsed: unknown;
  try { parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')); } catch { throw bad('not a cursor'); }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad('not a cursor');
  const { s, v } = parsed as { s?: unknown; v?: unknown };
  if (typeof s !== 'string' || !(s in SORTS)) throw bad('not a cursor');
  if (s !== sort) throw bad(`it belongs to sort ${s}, not ${sort}`);
  const clauses = SORTS[sort];
  if (!Array.isArray(v) || v.length !== clauses.length) throw bad('wrong shape');
  v.forEach((x, i) => {
    const last = i === clauses.length - 1;
    if (last ? typeof x !== 'string' || x.length > 512 : typeof x !== 'number' || !Number.isFinite(x)) throw bad('wrong shape');
  });
  return v as SortValues;
}

/**
 * Migration of the embedded-members layout: summaries written before member documents
 * existed carry every member in `members` (and an indexed `memberIds`). `migrate` moves them
 * into the member documents (the daily `<prefix>-members-*` index of each member's time) and rewrites each summary without them. It is idempotent and
 * resumable: each page is the summaries still holding `memberIds`, members are written with
 * `create` (a member stored before, by an earlier run or by the pipeline, is left as it is),
 * and a summary is rewritten only after its members are stored, at its own version
 * (`external_gte`), so a newer write by a running kontext is never replaced.
 */
import type { Client } from '@elastic/elasticsearch';
import { indexNames, memberIndexOf, toEsMember } from './codec.ts';
import type { ContextMember } from '../types/context.ts';
import { ensureIndexTemplates } from './templates.ts';
import { searchPages } from './pages.ts';

export interface MigrateProgress {
  /** summaries in the old layout when the run began */
  total: number;
  /** summaries rewritten so far */
  migrated: number;
  /** member documents created */
  members: number;
  /** members already stored (a repeated or resumed run, or an auditID another context holds) */
  existing: number;
  /** summaries a newer write replaced meanwhile (left as they are) */
  skipped: number;
}

export interface MigrateOptions {
  /** summaries per page (default 200) */
  pageSize?: number;
  onProgress?: (p: MigrateProgress) => void;
  refresh?: boolean | 'wait_for';
}

const OLD = { exists: { field: 'memberIds' } };

/** Summaries still in the embedded-members layout. */
export async function countOldLayout(client: Client, prefix: string): Promise<number> {
  const r = await client.count({ index: indexNames(prefix).contexts, query: OLD, ignore_unavailable: true });
  return r.count;
}

export async function migrateEmbeddedMembers(client: Client, prefix: string, opts: MigrateOptions = {}): Promise<MigrateProgress> {
  const names = indexNames(prefix);
  await ensureIndexTemplates(client, prefix);
  const p: MigrateProgress = { total: await countOldLayout(client, prefix), migrated: 0, members: 0, existing: 0, skipped: 0 };
  opts.onProgress?.(p);
  const size = opts.pageSize ?? 200;
  // pages in id order; a summary left as it is (a newer write won) still matches: page past it
  for await (const hits of searchPages(client, { index: names.contexts, size, version: true, query: OLD, sort: [{ id: 'asc' }] })) {
    const memberOps: unknown[] = [];
    for (const h of hits) {
      const members: ContextMember[] = Array.isArray(h._source.members) ? h._source.members : [];
      for (const m of members) memberOps.push({ create: { _index: memberIndexOf(prefix, { time: Number(m.time) }), _id: m.auditID } }, toEsMember(h._id, m));
    }
    let failed = false;
    for (let i = 0; i < memberOps.length; i += 5000) {
      const r = await client.bulk({ operations: memberOps.slice(i, i + 5000), refresh: opts.refresh });
      for (const it of r.items) {
        const c = it.create!;
        if (c.status >= 200 && c.status < 300) p.members++;
        else if (c.status === 409) p.existing++;
        else failed = true;
      }
    }
    if (failed) throw new Error('migrate: some member documents could not be written; run `kontext migrate` again (it resumes)');
    const summaryOps: unknown[] = [];
    for (const h of hits) {
      const { members: _m, memberIds: _ids, ...rest } = h._source;
      summaryOps.push({ index: { _index: h._index, _id: h._id, version: h._version, version_type: 'external_gte' } }, rest);
    }
    const r = await client.bulk({ operations: summaryOps, refresh: opts.refresh ?? true });
    for (const it of r.items) {
      const s = it.index!.status;
      if (s >= 200 && s < 300) p.migrated++;
      else if (s === 409) p.skipped++;
      else throw new Error(`migrate: summary ${it.index!._id} not rewritten (${it.index!.error?.reason ?? s}); run again (it resumes)`);
    }
    opts.onProgress?.(p);
  }
  return p;
}

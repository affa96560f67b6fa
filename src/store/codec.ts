/**
 * The one place that knows how a ContextDoc is laid out in Elasticsearch. Writers call
 * toEsDoc / toEsMember (or contextOperations), readers (GraphQL, evaluation, restore) call
 * fromEsDoc / fromEsMember; nobody else reads `_source` directly.
 *
 * Layout: a context is a summary document in `<prefix>-contexts-<day>` (`_id` = context id, every
 * ContextDoc field except `members`, and the ECS fields derived from them: ecs.ts) plus one small document per member in `<prefix>-members-<day>`
 * (`_id` = `<cluster>/<auditID>`, `contextId`, `cluster` + the compact member); the day of each is a pure
 * function of the document (indexNames). Member documents are
 * written once with `create`: Elasticsearch itself guarantees that an auditID belongs to
 * exactly one context, a member can never be lost by a later rewrite of the summary, and an
 * update of a context sends only its new members plus the small summary.
 */
import type { ContextDoc, ContextMember } from '../types/context.ts';
import { ecsFieldsOf, stripEcs, type EcsFields } from './ecs.ts';
import { DEFAULT_CLUSTER, scopedId } from '../clusters/names.ts';

export type EsContextSource = Omit<ContextDoc, 'members'>;

/** A summary as stored: kontext's fields plus the ECS fields derived from them (ecs.ts). */
export type EsContextDoc = EsContextSource & EcsFields;

export interface EsMemberSource extends ContextMember { contextId: string; cluster?: string }

/**
 * `_id` of a member document (and a raw event): `<cluster>/<auditID>`, so the same auditID of
 * two clusters are two documents (src/clusters/names.ts). A context without a cluster (written
 * by a tool, or stored before clusters) is the default cluster's.
 */
export function memberIdOf(cluster: string | undefined, auditID: string): string {
  return scopedId(cluster ?? DEFAULT_CLUSTER, auditID);
}

export function toEsDoc(ctx: ContextDoc | EsContextSource): EsContextDoc {
  // a summary read back from the store may still carry an older ECS block: derive it afresh
  const { members: _m, ...rest } = stripEcs(ctx as ContextDoc);
  return { ...rest, ...ecsFieldsOf(rest) };
}

export function toEsMember(contextId: string, m: ContextMember, cluster?: string): EsMemberSource {
  return cluster === undefined ? { contextId, ...m } : { contextId, cluster, ...m };
}

export function fromEsMember(src: EsMemberSource): ContextMember {
  const { contextId: _c, cluster: _cl, ...m } = src;
  return m;
}

/** A stored context with its members (sorted by time, auditID), as the pipeline knew it. */
export function fromEsDoc(src: EsContextSource & { members?: unknown; memberIds?: unknown }, members: ContextMember[] = []): ContextDoc {
  const { memberIds: _ids, members: _old, ...rest } = stripEcs(src);
  return { ...rest, members };
}

/** UTC day of an epoch ms as used in index names (`YYYY.MM.DD`); a time that is not a date is day 1970.01.01. */
export function dayOf(time: number): string {
  const d = new Date(Number.isFinite(time) ? time : 0);
  if (Number.isNaN(d.getTime())) return '1970.01.01';
  return `${d.getUTCFullYear()}.${String(d.getUTCMonth() + 1).padStart(2, '0')}.${String(d.getUTCDate()).padStart(2, '0')}`;
}

/**
 * Index names derived from the configured prefix. Documents live in daily indices named by
 * a pure function of the document: a summary in `<prefix>-contexts-<day of its start>`, a
 * member in `<prefix>-members-<day of its event time>`, a dead letter in
 * `<prefix>-dead-letter-<day it was rejected>`, so a re-sent event is always addressed to the
 * same index (where create-once by `_id` holds). `contexts`, `members` and `deadLetter` are
 * the read aliases every daily index carries (search, count, refresh across all days; a get
 * by id through them works only while one index exists: use the `*Day` names for writes and
 * gets). Day indices older than the retention are deleted (store/retention.ts).
 */
export function indexNames(prefix: string): {
  contexts: string; contextsPattern: string; members: string; membersPattern: string;
  deadLetter: string; raw: (day: string) => string; rawPattern: string;
  contextsDay: (day: string) => string; membersDay: (day: string) => string; deadLetterDay: (day: string) => string;
  /** concrete daily indices of each kind (retention), without the read aliases */
  contextsDaily: string; membersDaily: string; deadLetterDaily: string;
} {
  return {
    contexts: `${prefix}-contexts`,
    contextsPattern: `${prefix}-contexts*`,
    members: `${prefix}-members`,
    membersPattern: `${prefix}-members*`,
    deadLetter: `${prefix}-dead-letter`,
    raw: (day) => `${prefix}-raw-${day}`,
    rawPattern: `${prefix}-raw-*`,
    contextsDay: (day) => `${prefix}-contexts-${day}`,
    membersDay: (day) => `${prefix}-members-${day}`,
    deadLetterDay: (day) => `${prefix}-dead-letter-${day}`,
    contextsDaily: `${prefix}-contexts-*`,
    membersDaily: `${prefix}-members-*`,
    deadLetterDaily: `${prefix}-dead-letter-*`,
  };
}

/** The index a context's summary is stored in: the day of its start (its trigger's time). */
export function contextIndexOf(prefix: string, ctx: { start: number }): string {
  return `${prefix}-contexts-${dayOf(ctx.start)}`;
}

/** The index a member document is stored in: the day of the event's time. */
export function memberIndexOf(prefix: string, m: { time: number }): string {
  return `${prefix}-members-${dayOf(m.time)}`;
}

/**
 * Bulk operations that store a whole context at once (summary + every member), for tools and
 * tests that write contexts without the writer. `version` defaults to 2 × eventCount + closed.
 */
export function contextOperations(prefix: string, ctx: ContextDoc, version = 2 * ctx.members.length + (ctx.state === 'closed' ? 1 : 0)): unknown[] {
  const ops: unknown[] = [{ index: { _index: contextIndexOf(prefix, ctx), _id: ctx.id, version, version_type: 'external_gte' } }, toEsDoc(ctx)];
  for (const m of ctx.members) ops.push({ create: { _index: memberIndexOf(prefix, m), _id: memberIdOf(ctx.cluster, m.auditID) } }, toEsMember(ctx.id, m, ctx.cluster ?? DEFAULT_CLUSTER));
  return ops;
}

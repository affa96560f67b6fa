/**
 * The one place that knows how a ContextDoc is laid out in Elasticsearch. Writers call
 * toEsDoc / toEsMember (or contextOperations), readers (GraphQL, evaluation, restore) call
 * fromEsDoc / fromEsMember; nobody else reads `_source` directly.
 *
 * Layout: a context is a summary document in `<prefix>-contexts` (`_id` = context id, every
 * ContextDoc field except `members`) plus one small document per member in `<prefix>-members`
 * (`_id` = the member's auditID, `contextId` + the compact member). Member documents are
 * written once with `create`: Elasticsearch itself guarantees that an auditID belongs to
 * exactly one context, a member can never be lost by a later rewrite of the summary, and an
 * update of a context sends only its new members plus the small summary.
 */
import type { ContextDoc, ContextMember } from '../types/context.ts';

export type EsContextSource = Omit<ContextDoc, 'members'>;

export interface EsMemberSource extends ContextMember { contextId: string }

export function toEsDoc(ctx: ContextDoc | EsContextSource): EsContextSource {
  const { members: _m, ...rest } = ctx as ContextDoc;
  return rest;
}

export function toEsMember(contextId: string, m: ContextMember): EsMemberSource {
  return { contextId, ...m };
}

export function fromEsMember(src: EsMemberSource): ContextMember {
  const { contextId: _c, ...m } = src;
  return m;
}

/** A stored context with its members (sorted by time, auditID), as the pipeline knew it. */
export function fromEsDoc(src: EsContextSource & { members?: unknown; memberIds?: unknown }, members: ContextMember[] = []): ContextDoc {
  const { memberIds: _ids, members: _old, ...rest } = src;
  return { ...rest, members };
}

/** Index names derived from the configured prefix. */
export function indexNames(prefix: string): {
  contexts: string; contextsPattern: string; members: string; membersPattern: string;
  deadLetter: string; raw: (day: string) => string; rawPattern: string;
} {
  return {
    contexts: `${prefix}-contexts`,
    contextsPattern: `${prefix}-contexts*`,
    members: `${prefix}-members`,
    membersPattern: `${prefix}-members*`,
    deadLetter: `${prefix}-dead-letter`,
    raw: (day) => `${prefix}-raw-${day}`,
    rawPattern: `${prefix}-raw-*`,
  };
}

/**
 * Bulk operations that store a whole context at once (summary + every member), for tools and
 * tests that write contexts without the writer. `version` defaults to 2 × eventCount + closed.
 */
export function contextOperations(prefix: string, ctx: ContextDoc, version = 2 * ctx.members.length + (ctx.state === 'closed' ? 1 : 0)): unknown[] {
  const names = indexNames(prefix);
  const ops: unknown[] = [{ index: { _index: names.contexts, _id: ctx.id, version, version_type: 'external_gte' } }, toEsDoc(ctx)];
  for (const m of ctx.members) ops.push({ create: { _index: names.members, _id: m.auditID } }, toEsMember(ctx.id, m));
  return ops;
}

/**
 * The one place that knows how a ContextDoc is laid out in Elasticsearch. Writers call
 * toEsDoc, readers (GraphQL, evaluation) call fromEsDoc; nobody else reads `_source` directly.
 * Layout: every ContextDoc field as is, plus `memberIds` (keyword, for contextOfEvent).
 */
import type { ContextDoc } from '../types/context.ts';

export interface EsContextSource extends Omit<ContextDoc, 'members'> {
  members: ContextDoc['members'];
  memberIds: string[];
}

export function toEsDoc(ctx: ContextDoc): EsContextSource {
  return { ...ctx, memberIds: ctx.members.map((m) => m.auditID) };
}

export function fromEsDoc(src: EsContextSource): ContextDoc {
  const { memberIds: _ids, ...rest } = src;
  return rest;
}

/** Index names derived from the configured prefix. */
export function indexNames(prefix: string): { contexts: string; contextsPattern: string; raw: (day: string) => string; rawPattern: string } {
  return {
    contexts: `${prefix}-contexts`,
    contextsPattern: `${prefix}-contexts*`,
    raw: (day) => `${prefix}-raw-${day}`,
    rawPattern: `${prefix}-raw-*`,
  };
}

/**
 * Which Elasticsearch errors are worth retrying. Transient: no answer (connection refused,
 * reset, timeout), 408, 429 (queue full) and 5xx. Everything else in 4xx is permanent for
 * that document (mapping, parsing, a too-long id): retrying can never help, so it goes to the
 * dead-letter index. 409 (version conflict / exists) is neither: the caller resolves it.
 */

export function isTransientStatus(status: number | undefined): boolean {
  return status === undefined || status === 0 || status === 408 || status === 429 || status >= 500;
}

export function errStatus(e: unknown): number | undefined {
  const x = e as { meta?: { statusCode?: number }; statusCode?: number } | undefined;
  return x?.meta?.statusCode ?? x?.statusCode;
}

interface ItemResult { status?: number; error?: { type?: string | null; reason?: string | null; caused_by?: { type?: string | null; reason?: string | null } } }

/** "400 document_parsing_exception: [1:40] failed to parse field ..." */
export function itemError(r: ItemResult | undefined): string {
  if (!r) return 'no item in the bulk response';
  const e = r.error;
  const cause = e?.caused_by ? ` (${e.caused_by.type ?? ''}: ${e.caused_by.reason ?? ''})` : '';
  return `${r.status ?? '?'} ${e?.type ?? ''}: ${e?.reason ?? ''}${cause}`.slice(0, 2000);
}

/** Short stable reason code of a permanent error, for the dead-letter index and metrics. */
export function permanentReason(r: ItemResult | undefined): string {
  const type = r?.error?.type ?? '';
  const text = `${r?.error?.reason ?? ''} ${r?.error?.caused_by?.reason ?? ''}`;
  if (/id .*too long|is too long, must be no longer than 512 bytes/i.test(text)) return 'id-too-long';
  if (/mapper_parsing|document_parsing|strict_dynamic_mapping|illegal_argument/.test(type) || /failed to parse|mapper|limit of total fields/i.test(text)) return 'es-mapping';
  if (type === 'max_bytes_length_exceeded_exception' || /too large|max_bytes_length/i.test(text)) return 'too-large';
  return `es-${r?.status ?? 'error'}`;
}

/** Byte length of an Elasticsearch `_id` (at most 512 bytes of UTF-8). */
export const MAX_ID_BYTES = 512;
export function idTooLong(id: string): boolean {
  return id.length > MAX_ID_BYTES / 4 && Buffer.byteLength(id, 'utf8') > MAX_ID_BYTES;
}

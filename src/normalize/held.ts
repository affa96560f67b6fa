/**
 * The form an event takes while normalize holds it for reordering: its JSON text, parsed back
 * when it is released. A decoded audit event is an object graph about three times the size of
 * its JSON (measured on simulated RequestResponse traffic: 7.2 KB estimated as objects, 2.2 KB
 * as JSON), and what is held for seconds outlives V8's young generation: held as objects, every
 * reorder window of a backlog became old-generation garbage the size of the window, which is
 * what drove the process's RSS. Held as one flat string, the decoded object dies young and the
 * held bytes are the string's, so `max-buffer` bounds real memory, not an estimate of it.
 * Costs one JSON round trip per event (about 30 µs for a 2 KB event).
 */
import type { AuditEvent } from '../types/audit.ts';

/** bytes a held event costs beyond its text (the entry, its heap slot, the string header) */
export const HELD_OVERHEAD_BYTES = 160;

export interface Packed { json: string; bytes: number }

export function packEvent(event: AuditEvent): Packed {
  const json = JSON.stringify(event);
  // V8 keeps ASCII text one byte a character; the JSON of an audit event is almost all ASCII
  return { json, bytes: HELD_OVERHEAD_BYTES + json.length };
}

export function unpackEvent(json: string): AuditEvent {
  return JSON.parse(json) as AuditEvent;
}

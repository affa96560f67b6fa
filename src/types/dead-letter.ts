/**
 * Inputs kontext can never store (an event that fails validation, a document Elasticsearch
 * refuses for good) are kept with their reason in `<prefix>-dead-letter` instead of being
 * retried forever or dropped silently. Their receipts settle once the dead letter is stored.
 */
export interface DeadLetter {
  /** when it was rejected (epoch ms) */
  time: number;
  /** the stage that refused it: 'normalize', 'store', or a source name */
  stage: string;
  /** short stable reason code, e.g. 'invalid-field', 'id-too-long', 'es-mapping' */
  reason: string;
  /** human-readable detail: field path, limit, Elasticsearch's error */
  detail?: string;
  auditID?: string;
  /** the offending record or document as JSON text, truncated */
  record?: string;
}

export interface DeadLetterSink {
  /** resolves once the entries are durably stored; rejects on a transient failure */
  put(entries: DeadLetter[]): Promise<void>;
}

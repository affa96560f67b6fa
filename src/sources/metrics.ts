/** Metrics shared by every ingest source (labels: source = forward | webhook | file). */
import { counter, gauge } from '../util/metrics.ts';

export const ingestRecords = counter('kontext_ingest_records_total', 'Raw records received by a source and handed to the pipeline.');
export const ingestRejected = counter('kontext_ingest_rejected_total', 'Input a source refused (bad frame, bad request, bad line, auth failure, limit), by reason.');
export const ingestBytes = counter('kontext_ingest_bytes_total', 'Bytes read by a source.');
export const ingestUnitsAcked = counter('kontext_ingest_units_acked_total', 'Units (forward chunks, webhook requests, file blocks) confirmed after every record was settled.');
export const ingestUnitsFailed = counter('kontext_ingest_units_failed_total', 'Units whose records could not be stored; not confirmed, the sender retries.');
export const ingestPaused = gauge('kontext_ingest_paused', '1 while a source has stopped reading because the pipeline is saturated.');
export const ingestPauses = counter('kontext_ingest_pauses_total', 'Times a source stopped reading because the pipeline was saturated.');

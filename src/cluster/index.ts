/** Streaming clusterer: labeled events → context documents. */
export { createClusterer } from './clusterer.ts';
export type { Clusterer, ClustererOptions } from './clusterer.ts';
export { summarize, pickTrigger, eventFlags, isSystemUser, describeAction, toMember } from './summary.ts';
export { replay, oracleLabel, reorder, eventTime } from './replay.ts';
export type { ReplayOptions } from './replay.ts';
export type { ClusterStage, ContextSink, ContextWrite, ReceiptShare, RawEvent, WriteResult } from './types.ts';

import type { Config } from '../config/config.ts';
import type { ClustererOptions } from './clusterer.ts';
/** Clusterer options from the configuration (contextIdle, contextMaxAge, contextMaxEvents, rawRetention). */
export function clustererOptions(cfg: Pick<Config, 'contextIdle' | 'contextMaxAge' | 'contextMaxEvents' | 'rawRetention'>): ClustererOptions {
  return { idleMs: cfg.contextIdle, maxAgeMs: cfg.contextMaxAge, maxEvents: cfg.contextMaxEvents, keepRaw: cfg.rawRetention > 0 };
}

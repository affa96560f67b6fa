/**
 * First step of labeling, shared by the live stage and training: inference rules, then (for
 * what no rule claims) feature tokens. Stateful, events must come in stream order.
 */
import type { AuditEvent } from '../types/audit.ts';
import { FeatureExtractor, type EventFeatures } from './features.ts';
import { RuleSet, type RuleMatch } from './rules.ts';

export type Prepared =
  | { kind: 'rule'; match: RuleMatch }
  | { kind: 'model'; features: EventFeatures };

export class Preprocessor {
  readonly features: FeatureExtractor;
  constructor(readonly rules: RuleSet, maxObjects?: number) {
    this.features = new FeatureExtractor({ maxObjects });
  }
  prepare(ev: AuditEvent, time: number): Prepared {
    const match = this.rules.match(ev);
    if (match) return { kind: 'rule', match };
    return { kind: 'model', features: this.features.extract(ev, time) };
  }
}

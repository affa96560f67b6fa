/**
 * Detections: named security rules evaluated on every event and every context (see rules.ts
 * for the rules files, condition.ts for the language, correlate.ts for the stateful rules,
 * engine.ts for how they run). The shipped rules file is schema/detections/kontext.yaml.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DetectionEngine } from './engine.ts';
import { loadRulesFiles } from './rules.ts';
import type { Logger } from '../util/log.ts';
import type { ClusterStage } from '../cluster/types.ts';

export { DetectionEngine, MAX_AUDIT_IDS, maxSeverity, type Detector, type TimedEvent } from './engine.ts';
export { RulesError, SEVERITIES, severityRank, compileRules, loadRulesFiles, type Detection, type RuleSet, type Severity } from './rules.ts';
export { CORRELATIONS, CORRELATION_PARAMS } from './correlate.ts';

/** The shipped rules file. */
export const SHIPPED_RULES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schema/detections/kontext.yaml');

/** "a.yaml,b.yaml" → ["a.yaml", "b.yaml"] */
export function rulesFilesOf(option: string | undefined): string[] {
  return (option ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * The engine of a running kontext: shipped rules, then the user's files in order. Throws
 * RulesError (file, line, reason) on any invalid rule, so a bad file stops the start-up.
 */
export function createDetectionEngine(userFiles: string[] = [], opts: { stateful?: boolean } = {}): DetectionEngine {
  return new DetectionEngine(loadRulesFiles([SHIPPED_RULES, ...userFiles]), opts);
}

/** One start-up line: what is loaded and which detections Metadata-level audit logs cannot feed. */
export function logDetections(engine: DetectionEngine, log: Logger): void {
  const enabled = engine.rules.detections.filter((d) => d.enabled);
  log.info('detections loaded', {
    files: engine.rules.files,
    detections: enabled.length,
    disabled: engine.rules.detections.length - enabled.length,
    needRequestBodies: engine.needBodies,
    note: 'detections in needRequestBodies cannot fire on Metadata-level audit events (they need the Request or RequestResponse level)',
  });
}

let stateless: DetectionEngine | undefined;
/**
 * Shipped event and context detections without correlations (no state): what summarize() uses
 * when it is given no engine (tests, evaluation tools). The pipeline passes its own engine.
 */
export function statelessDetector(): DetectionEngine {
  stateless ??= createDetectionEngine([], { stateful: false });
  return stateless;
}

/**
 * A cluster stage whose `push` first lets the engine observe the events: in event-time order
 * and with their bodies, before the clusterer strips them.
 */
export function observeBefore<C extends ClusterStage>(cluster: C, engine: DetectionEngine): C {
  const push = cluster.push.bind(cluster);
  cluster.push = (events) => { engine.observe(events); push(events); };
  return cluster;
}

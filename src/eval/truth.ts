/**
 * Ground truth for context scoring, in one shape whatever its source:
 * - the simulator's annotations (`sim.kontext.io/context`, `sim.kontext.io/label`);
 * - the hkerma capture's `truth.jsonl.gz` (`release`, `tier`; core = tiers `helm` + `cascade`;
 *   the pseudo-releases `nsdelete:*` and `admin:*` are actions too);
 * - a recorded corpus run's `truth.jsonl.br` (`action` "<run>/<step>" or null, `tier`
 *   own | cascade | discovery | background, `user`; core = own + cascade; a step's discovery
 *   GETs keep its action but are not core, as the hkerma capture's discovery tier).
 * Never a feature: only evaluation reads it.
 */
import { createReadStream } from 'node:fs';
import { createBrotliDecompress, createGunzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import type { AuditEvent } from '../types/audit.ts';
import { TRUTH_CONTEXT_ANNOTATION, TRUTH_LABEL_ANNOTATION } from '../types/audit.ts';

export interface TruthEvent {
  /** the user action the event belongs to, or null (background) */
  action: string | null;
  /** the action's own requests or the control-plane cascade they caused: what its context must hold */
  core: boolean;
  /** the requesting user */
  user: string;
  /** ground-truth label key, where the source has labels (the simulator) */
  label?: string;
}

export interface ActionInfo {
  id: string;
  /** who triggered it, when the trigger is in the log */
  user?: string;
  /** the helm release, when the action is a helm install */
  release?: string;
}

export interface TruthSet {
  /** auditID → truth */
  events: Map<string, TruthEvent>;
  actions: Map<string, ActionInfo>;
}

/** Lines of a JSONL(.gz|.br) file, parsed. */
export async function* readJsonl(file: string): AsyncGenerator<any> {
  let input: NodeJS.ReadableStream = createReadStream(file);
  if (file.endsWith('.gz')) input = input.pipe(createGunzip());
  else if (file.endsWith('.br')) input = input.pipe(createBrotliDecompress());
  const rl = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (!line.trim()) continue;
    try { yield JSON.parse(line); } catch { throw new Error(`${file}:${n}: not JSON`); }
  }
}

/** The most frequent value (first seen wins ties). */
function mode(values: string[]): string | undefined {
  const c = new Map<string, number>();
  let best: string | undefined; let bestN = 0;
  for (const v of values) { const n = (c.get(v) ?? 0) + 1; c.set(v, n); if (n > bestN) { best = v; bestN = n; } }
  return best;
}

export interface HkermaTruthLine { auditID: string; user: string; release: string; tier: string }

function finish(events: Map<string, TruthEvent>, triggerUsers: Map<string, string[]>, release: (id: string) => string | undefined): TruthSet {
  const actions = new Map<string, ActionInfo>();
  for (const t of events.values()) {
    if (!t.action || actions.has(t.action)) continue;
    const user = mode(triggerUsers.get(t.action) ?? []);
    const rel = release(t.action);
    actions.set(t.action, { id: t.action, ...(user ? { user } : {}), ...(rel ? { release: rel } : {}) });
  }
  return { events, actions };
}

/** Truth from per-event tiers: which tiers are core, which tier's users trigger the action. */
function fromTiers<L extends { auditID: string; user: string; tier: string }>(lines: Iterable<L>, actionOf: (l: L) => string | null, core: readonly string[], triggerTier: string, release: (id: string) => string | undefined): TruthSet {
  const events = new Map<string, TruthEvent>();
  const trig = new Map<string, string[]>();
  for (const l of lines) {
    const action = actionOf(l);
    events.set(l.auditID, { action, core: !!action && core.includes(l.tier), user: l.user });
    if (action && l.tier === triggerTier) (trig.get(action) ?? trig.set(action, []).get(action)!).push(l.user);
  }
  return finish(events, trig, release);
}

/** hkerma truth: release "-" is background; tiers helm + cascade are core; helm-tier users trigger. */
export function hkermaTruth(lines: Iterable<HkermaTruthLine>): TruthSet {
  // pseudo-releases ("nsdelete:loki", "admin:other") are actions, not helm installs
  return fromTiers(lines, (l) => (l.release && l.release !== '-' ? l.release : null), ['helm', 'cascade'], 'helm', (id) => (id.includes(':') ? undefined : id));
}

export interface RecordedTruthLine { auditID: string; action: string | null; tier: 'own' | 'cascade' | 'discovery' | 'background'; user: string }

/**
 * Recorded-corpus truth. `releases` maps action id → helm release for the steps that are helm
 * installs (from the run's manifest).
 */
export function recordedTruth(lines: Iterable<RecordedTruthLine>, releases: ReadonlyMap<string, string> = new Map()): TruthSet {
  return fromTiers(lines, (l) => (l.action && l.tier !== 'background' ? l.action : null), ['own', 'cascade'], 'own', (id) => releases.get(id));
}

const HELM_RELEASE_SECRET = /^sh\.helm\.release\.v1\.(.+)\.v1$/;

/**
 * Simulator truth from annotations: contexts "bg:…" are background, every other context is
 * one action whose trigger is the event with the context's id as auditID.
 */
export function simulatorTruth(events: Iterable<AuditEvent>): TruthSet {
  const out = new Map<string, TruthEvent>();
  const trig = new Map<string, string[]>();
  const rel = new Map<string, string>();
  for (const e of events) {
    const ctx = e.annotations?.[TRUTH_CONTEXT_ANNOTATION];
    if (!ctx) continue;
    const action = ctx.startsWith('bg:') ? null : ctx;
    const label = e.annotations?.[TRUTH_LABEL_ANNOTATION];
    out.set(e.auditID, { action, core: !!action, user: e.user?.username ?? '', ...(label ? { label } : {}) });
    if (action && e.auditID === action) {
      trig.set(action, [e.user?.username ?? '']);
      const m = HELM_RELEASE_SECRET.exec(e.objectRef?.name ?? '');
      if (m && e.verb === 'create' && e.objectRef?.resource === 'secrets') rel.set(action, m[1]!);
    }
  }
  return finish(out, trig, (id) => rel.get(id));
}

/** Truth restricted to the given auditIDs (what a policy kept of the log). */
export function restrictTruth(t: TruthSet, ids: ReadonlySet<string>): TruthSet {
  const events = new Map<string, TruthEvent>();
  for (const [id, e] of t.events) if (ids.has(id)) events.set(id, e);
  const present = new Set<string>();
  for (const e of events.values()) if (e.action && e.core) present.add(e.action);
  const actions = new Map<string, ActionInfo>();
  for (const [id, a] of t.actions) if (present.has(id)) actions.set(id, a);
  return { events, actions };
}

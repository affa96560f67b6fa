/**
 * Stream capabilities: what the audit stream carries of what kontext uses. Watches the first
 * events after normalize and, once it has seen enough, says — one warn log line with the fix,
 * the gauge `kontext_stream_capability{capability}` (1 present, 0 missing) and the `stream`
 * detail of `/readyz?verbose` — when the stream lacks request or response bodies (the audit
 * policy logs at Metadata), userAgent, annotations or user.groups (the shipper or export drops
 * them). kontext still works without them, with weaker links: see the per-level table of
 * `kontext evaluate`.
 */
import type { KEvent } from '../types/pipeline.ts';
import { gauge } from '../util/metrics.ts';
import { log as rootLog, type Logger } from '../util/log.ts';

export type Capability = 'requestObject' | 'responseObject' | 'userAgent' | 'annotations' | 'userGroups';
export const CAPABILITIES: readonly Capability[] = ['requestObject', 'responseObject', 'userAgent', 'annotations', 'userGroups'];

/** Parameters of the check, in one place. */
export const CAPABILITY_PARAMS = {
  /** events looked at before deciding */
  sample: 2000,
  /** bodies count as present when at least this share of the events that would carry one do */
  minShare: 0.05,
  /** writes below this many in the sample leave body capabilities undecided (present) */
  minWrites: 5,
};

const WRITE_VERBS = new Set(['create', 'update', 'patch']);

/** Events that carry `c` at a level that logs it: successful resource writes for bodies, every event otherwise. */
function applies(c: Capability, e: KEvent['audit']): boolean {
  if (c !== 'requestObject' && c !== 'responseObject') return true;
  const code = e.responseStatus?.code ?? 0;
  return !!e.objectRef?.resource && WRITE_VERBS.has(e.verb) && code >= 200 && code < 300;
}

function has(c: Capability, e: KEvent['audit']): boolean {
  switch (c) {
    case 'requestObject': return e.requestObject !== undefined && e.requestObject !== null;
    case 'responseObject': return e.responseObject !== undefined && e.responseObject !== null;
    case 'userAgent': return !!e.userAgent;
    case 'annotations': return !!e.annotations && Object.keys(e.annotations).length > 0;
    case 'userGroups': return (e.user?.groups?.length ?? 0) > 0;
  }
}

const BODY_POLICY = [
  'apiVersion: audit.k8s.io/v1',
  'kind: Policy',
  'omitStages: ["RequestReceived"]',
  'rules:',
  '  - level: Metadata          # sensitive data: no bodies',
  '    resources: [{group: "", resources: ["secrets", "configmaps", "serviceaccounts/token"]}, {group: "authentication.k8s.io", resources: ["tokenreviews"]}]',
  '  - level: Request',
  '    verbs: ["get", "list", "watch"]',
  '  - level: RequestResponse   # writes with both bodies: uids, ownerReferences, involvedObject, claimRef',
];

/** What fixes each missing capability. */
export const CAPABILITY_FIX: Record<Capability, string> = {
  requestObject: 'log writes at RequestResponse (audit policy below; kube-apiserver --audit-policy-file)',
  responseObject: 'log writes at RequestResponse (audit policy below; kube-apiserver --audit-policy-file)',
  userAgent: 'keep the userAgent field in the log shipper / export (the apiserver always writes it)',
  annotations: 'keep the annotations field in the log shipper / export (authorization decisions)',
  userGroups: 'keep user.groups in the log shipper / export',
};

const mCapability = gauge('kontext_stream_capability', 'What the audit stream carries (1) or lacks (0), decided on its first events: requestObject, responseObject, userAgent, annotations, userGroups.');

export interface CapabilityReport {
  /** events looked at */
  sampled: number;
  /** false until `sample` events were seen */
  decided: boolean;
  /** per capability: events that carried it / events that would */
  present: Record<Capability, { has: number; of: number }>;
  missing: Capability[];
}

export class StreamCapabilities {
  private sampled = 0;
  private decided = false;
  private readonly counts = Object.fromEntries(CAPABILITIES.map((c) => [c, { has: 0, of: 0 }])) as Record<Capability, { has: number; of: number }>;
  private missing: Capability[] = [];
  private readonly log: Logger;
  private readonly params: typeof CAPABILITY_PARAMS;

  constructor(opts: { logger?: Logger; params?: Partial<typeof CAPABILITY_PARAMS> } = {}) {
    this.log = (opts.logger ?? rootLog).child({ component: 'stream-capabilities' });
    this.params = { ...CAPABILITY_PARAMS, ...opts.params };
  }

  /** Looks at events until the sample is full, then decides once. Cheap afterwards. */
  observe(events: readonly KEvent[]): void {
    if (this.decided) return;
    for (const { audit } of events) {
      for (const c of CAPABILITIES) {
        if (!applies(c, audit)) continue;
        const n = this.counts[c];
        n.of++;
        if (has(c, audit)) n.has++;
      }
      if (++this.sampled >= this.params.sample) { this.decide(); return; }
    }
  }

  /** Decides on what was seen so far (e.g. a short replay that ended before the sample filled). */
  decide(): void {
    if (this.decided || this.sampled === 0) return;
    this.decided = true;
    this.missing = CAPABILITIES.filter((c) => {
      const n = this.counts[c];
      const body = c === 'requestObject' || c === 'responseObject';
      if (body && n.of < this.params.minWrites) return false;
      return n.of > 0 && n.has / n.of < (body ? this.params.minShare : 0.01);
    });
    for (const c of CAPABILITIES) mCapability.set(this.missing.includes(c) ? 0 : 1, { capability: c });
    if (!this.missing.length) return;
    const bodies = this.missing.some((c) => c === 'requestObject' || c === 'responseObject');
    const fixes = [...new Set(this.missing.map((c) => CAPABILITY_FIX[c]))];
    this.log.warn(`audit stream lacks ${this.missing.join(', ')}: kontext links events with less certainty without them (kontext evaluate shows the cost per audit level). Fix: ${fixes.join('; ')}`, {
      missing: this.missing, sampled: this.sampled,
      ...(bodies ? { auditPolicy: BODY_POLICY.join('\n') } : {}),
    });
  }

  report(): CapabilityReport {
    return { sampled: this.sampled, decided: this.decided, present: structuredClone(this.counts), missing: [...this.missing] };
  }
}

/** The audit policy snippet that logs the bodies kontext uses (writes at RequestResponse). */
export const BODY_AUDIT_POLICY = BODY_POLICY.join('\n');

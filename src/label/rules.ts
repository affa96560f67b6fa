/**
 * Inference rules: deterministic labels for background traffic that belongs to no user action
 * (leases, node status, token and access reviews, discovery, long-running controller watches,
 * controller resync lists). They run before the model; the model only sees what no rule
 * claims. Every rule requires a Kubernetes component as the requester, so the same request
 * made by a person (e.g. `kubectl get pods -w`, `kubectl create token`) stays a trigger; only
 * discovery GETs are background whoever sends them (clients refresh their discovery cache).
 */
import type { AuditEvent } from '../types/audit.ts';
import type { BackgroundKind } from '../types/label.ts';
import { isActorClass, userClass } from '../k8s/identity.ts';
import { isDiscoveryRequest } from '../k8s/uri.ts';

export interface Rule {
  name: string;
  kind: BackgroundKind;
  /** what the rule matches, for docs and reports */
  description: string;
  /** also claims requests of people (kubectl's discovery is never part of an action) */
  anyUser?: boolean;
  match(ev: AuditEvent, userCls: string): boolean;
}

const RV0 = /[?&]resourceVersion=0(&|$)/;
const HEALTH = /^\/(healthz|livez|readyz|metrics)(\/|$|\?)/;
const TOKEN_RESOURCES = new Set(['tokenreviews', 'subjectaccessreviews', 'localsubjectaccessreviews', 'selfsubjectaccessreviews', 'selfsubjectrulesreviews']);

const READ_WRITE = new Set(['get', 'create', 'update', 'patch']);

export const RULES: readonly Rule[] = [
  {
    name: 'watch', kind: 'watch', description: 'long-running watches of components',
    match: (ev) => ev.verb === 'watch',
  },
  {
    name: 'lease', kind: 'lease', description: 'reads and renewals of coordination.k8s.io leases (leader election, node heartbeats) by components',
    match: (ev) => ev.objectRef?.resource === 'leases' && READ_WRITE.has(ev.verb),
  },
  {
    name: 'node-status', kind: 'node-status', description: 'kubelet reads and status updates of its Node',
    match: (ev, u) => u === 'node' && ev.objectRef?.resource === 'nodes' && !ev.objectRef.apiGroup && READ_WRITE.has(ev.verb),
  },
  {
    name: 'token', kind: 'token', description: 'token and access reviews by components (authn/authz webhooks, kubelet)',
    match: (ev) => TOKEN_RESOURCES.has(ev.objectRef?.resource ?? ''),
  },
  {
    name: 'discovery', kind: 'discovery', description: 'GETs of /api, /apis, /openapi, /version, built-in and custom API groups alike (clients refresh their discovery cache; helm and kubectl do it before every command)', anyUser: true,
    match: (ev) => isDiscoveryRequest(ev),
  },
  {
    name: 'health', kind: 'other', description: 'health checks and metrics scrapes (/healthz, /livez, /readyz, /metrics)', anyUser: true,
    match: (ev) => !ev.objectRef?.resource && ev.verb === 'get' && HEALTH.test(ev.requestURI ?? ''),
  },
  {
    name: 'resync-list', kind: 'controller', description: 'informer (re)lists of controllers and add-ons: LISTs from the watch cache (resourceVersion=0) or across all namespaces',
    match: (ev, u) => ev.verb === 'list' && u !== 'node' && (RV0.test(ev.requestURI ?? '') || !ev.objectRef?.namespace),
  },
];

export interface RuleMatch { rule: Rule; kind: BackgroundKind }

/** Rules are tried in order; people's requests are claimed only by `anyUser` rules. */
export class RuleSet {
  constructor(readonly rules: readonly Rule[] = RULES) {}

  match(ev: AuditEvent): RuleMatch | undefined {
    const u = userClass(ev.user?.username);
    const actor = isActorClass(u);
    for (const rule of this.rules) if ((!actor || rule.anyUser) && rule.match(ev, u)) return { rule, kind: rule.kind };
    return undefined;
  }

  /** The same rule set without the named rules (for data-driven pruning and ablations). */
  without(names: readonly string[]): RuleSet {
    return new RuleSet(this.rules.filter((r) => !names.includes(r.name)));
  }
}

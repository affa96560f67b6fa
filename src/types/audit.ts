/**
 * audit.k8s.io/v1 Event, as the kube-apiserver writes it (log or webhook backend).
 * Only the fields kontext reads are typed; everything else passes through untouched.
 */
export type AuditStage = 'RequestReceived' | 'ResponseStarted' | 'ResponseComplete' | 'Panic';
export type AuditLevel = 'None' | 'Metadata' | 'Request' | 'RequestResponse';

export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface ObjectReference {
  resource?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiGroup?: string;
  apiVersion?: string;
  resourceVersion?: string;
  subresource?: string;
}

export interface ResponseStatus {
  metadata?: Record<string, unknown>;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: Record<string, unknown>;
}

export interface AuditEvent {
  kind: 'Event';
  apiVersion: 'audit.k8s.io/v1';
  level: AuditLevel;
  auditID: string;
  stage: AuditStage;
  requestURI: string;
  verb: string;
  user: UserInfo;
  impersonatedUser?: UserInfo;
  sourceIPs?: string[];
  userAgent?: string;
  objectRef?: ObjectReference;
  responseStatus?: ResponseStatus;
  requestObject?: any;
  responseObject?: any;
  requestReceivedTimestamp: string; // RFC3339 with microseconds
  stageTimestamp: string;
  annotations?: Record<string, string>;
}

/** A batch as the apiserver webhook backend POSTs it. */
export interface AuditEventList {
  kind: 'EventList';
  apiVersion: 'audit.k8s.io/v1';
  metadata?: Record<string, unknown>;
  items: AuditEvent[];
}

/**
 * Ground truth written by `kontext simulate` into the event's annotations, so it survives
 * Fluent Bit and the webhook unchanged. Never used as a feature; only by evaluation.
 */
export const TRUTH_LABEL_ANNOTATION = 'sim.kontext.io/label';
export const TRUTH_CONTEXT_ANNOTATION = 'sim.kontext.io/context';

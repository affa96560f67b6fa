/**
 * A context: one triggering action and every event it caused. This is the unit kontext
 * stores (index `kontext-contexts`) and serves. The Elasticsearch mapping in
 * schema/elasticsearch/ and the GraphQL type in schema/kontext.graphql follow this type.
 */
export type Outcome = 'success' | 'failure' | 'forbidden' | 'partial';

export type SecurityFlag =
  | 'secret-read'       // get/list/watch of secrets by a non-system user
  | 'exec'              // pods/exec
  | 'attach'            // pods/attach
  | 'portforward'       // pods/portforward, services/proxy, pods/proxy
  | 'rbac-change'       // create/update/patch/delete of roles, bindings, clusterroles
  | 'csr-approval'      // certificatesigningrequests/approval
  | 'anonymous'         // system:anonymous or unauthenticated group
  | 'forbidden-burst'   // several 403s in one context
  | 'impersonation'     // impersonatedUser present
  | 'privileged-pod';   // pod spec with privileged / hostPID / hostNetwork / hostPath

export interface TriggerInfo {
  auditID: string;
  user: string;
  groups: string[];
  userAgent: string;
  /** parsed userAgent, e.g. "kubectl/v1.30.2" or "helm/v3.14.0" */
  client: string;
  sourceIPs: string[];
  verb: string;
  apiGroup: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  code: number;
  impersonatedUser?: string;
  /** the audit level the apiserver logged the trigger at (Metadata, Request, RequestResponse) */
  level?: string;
}

/** One event of a context, compact: no request/response bodies. */
export interface ContextMember {
  auditID: string;
  /** event time, epoch ms */
  time: number;
  user: string;
  verb: string;
  /** "<apiGroup>/<resource>" or core "<resource>" */
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  code: number;
  /**
   * link keys only its request/response bodies carried (uids, owners, involved object, the
   * node of a binding): what the clusterer needs to link later events to it after a restart
   */
  keys?: string[];
}

export interface KeyCount { key: string; count: number }

/** Severity of a detection, most severe first. */
export type DetectionSeverity = 'critical' | 'high' | 'medium' | 'low' | 'info';

/** A detection (schema/detections, --rules) that fired on a context. */
export interface ContextDetection {
  /** detection name, e.g. "create-privileged-pod" */
  name: string;
  severity: DetectionSeverity;
  /** members that matched (at most 100); for a context detection, the trigger */
  auditIDs: string[];
}

export interface ContextDoc {
  /** `<cluster>/<auditID of its first member>` (src/clusters/names.ts) */
  id: string;
  /**
   * the Kubernetes cluster of every member (src/clusters/router.ts sets it; documents stored
   * before clusters have none and are migrated to the default cluster)
   */
  cluster?: string;
  /** labelKey of the trigger, e.g. "create apps/deployments" */
  label: string;
  /** readable action, e.g. "alice created deployment shop/web" */
  action: string;
  state: 'open' | 'closed';
  trigger: TriggerInfo;
  /** epoch ms of first and last member */
  start: number;
  end: number;
  eventCount: number;
  users: string[];
  namespaces: string[];
  resources: string[];
  names: string[];
  verbs: string[];
  counts: { verbs: KeyCount[]; resources: KeyCount[]; users: KeyCount[]; codes: KeyCount[] };
  outcome: Outcome;
  failures: number;
  forbidden: number;
  flags: SecurityFlag[];
  /**
   * detections that fired, most severe first (the fixed `flags` stay as they were). summarize()
   * always sets it; documents stored by older versions have none.
   */
  detections?: ContextDetection[];
  members: ContextMember[];
  /** labeler's mean confidence over members */
  confidence: number;
}

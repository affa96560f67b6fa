/**
 * The shape of every audit-event field kontext reads anywhere (labeler, clusterer, summary,
 * store), with the limits of every string it turns into a key or an id. Normalize checks an
 * event against it once, at the door; everything downstream may then rely on the types.
 * Fields kontext does not read are not checked and pass through untouched.
 *
 * Bodies (requestObject / responseObject) are any JSON (a JSON patch is an array); when they
 * are objects, the few paths kontext reads in them are checked. Body fields may be null
 * (a merge patch deletes with null).
 */

export type Rule =
  | { t: 'str'; max: number; re?: RegExp; what?: string; nullable?: boolean }
  | { t: 'int'; min: number; max: number; nullable?: boolean }
  | { t: 'obj'; fields: Record<string, Rule>; nullable?: boolean }
  | { t: 'arr'; of: Rule; max: number; nullable?: boolean }
  /** an object with any keys (annotations, labels) */
  | { t: 'map'; of: Rule; max: number; keyMax: number; nullable?: boolean };

/** Every limit in one place. Lengths are in UTF-16 code units (what `.length` counts). */
export const LIMITS = {
  /** auditID: a UUID in practice; the apiserver takes any Audit-ID header, so allow a bounded token charset */
  auditIdMax: 128,
  auditIdPattern: /^[A-Za-z0-9][A-Za-z0-9._:@+=-]*$/,
  verbMax: 64,
  requestUriMax: 16_384,
  /** the apiserver truncates user agents at 1024 characters plus a suffix */
  userAgentMax: 2048,
  usernameMax: 1024,
  uidMax: 256,
  groupsMax: 256,
  groupMax: 1024,
  sourceIpsMax: 64,
  sourceIpMax: 64,
  /** object, owner and claim names (most kinds: a 253-character DNS subdomain; RBAC names are longer) */
  nameMax: 1024,
  namespaceMax: 253,
  resourceMax: 253,
  apiGroupMax: 253,
  versionMax: 128,
  kindMax: 253,
  labelsMax: 256,
  labelKeyMax: 317,
  /** label values kontext reads become keys; valid ones are ≤ 63, a refused request may carry longer */
  labelValueMax: 1024,
  annotationsMax: 256,
  annotationKeyMax: 317,
  annotationValueMax: 65_536,
  ownerReferencesMax: 1024,
  reasonMax: 1024,
  statusMax: 128,
  messageMax: 65_536,
} as const;

const str = (max: number, extra: Partial<{ re: RegExp; what: string; nullable: boolean }> = {}): Rule => ({ t: 'str', max, ...extra });
const nstr = (max: number): Rule => str(max, { nullable: true });
const obj = (fields: Record<string, Rule>, nullable = false): Rule => ({ t: 'obj', fields, nullable });

const user: Rule = obj({
  username: str(LIMITS.usernameMax),
  uid: str(LIMITS.uidMax),
  groups: { t: 'arr', of: str(LIMITS.groupMax), max: LIMITS.groupsMax },
  extra: { t: 'map', of: { t: 'arr', of: str(LIMITS.groupMax), max: LIMITS.groupsMax }, max: 64, keyMax: LIMITS.annotationKeyMax },
});

/** an object reference inside a body: owner, involvedObject, regarding, claimRef, boundObjectRef, target */
const refFields: Record<string, Rule> = {
  kind: nstr(LIMITS.kindMax),
  name: nstr(LIMITS.nameMax),
  namespace: nstr(LIMITS.namespaceMax),
  uid: nstr(LIMITS.uidMax),
  apiVersion: nstr(LIMITS.versionMax),
};
const bodyRef: Rule = obj(refFields, true);
/** an item of ownerReferences: an object, never null */
const ownerRef: Rule = obj(refFields);

const body: Rule = obj({
  kind: nstr(LIMITS.kindMax),
  reason: nstr(LIMITS.reasonMax),
  metadata: obj({
    name: nstr(LIMITS.nameMax),
    namespace: nstr(LIMITS.namespaceMax),
    uid: nstr(LIMITS.uidMax),
    deletionTimestamp: nstr(64),
    labels: { t: 'map', of: nstr(LIMITS.labelValueMax), max: LIMITS.labelsMax, keyMax: LIMITS.labelKeyMax, nullable: true },
    ownerReferences: { t: 'arr', of: ownerRef, max: LIMITS.ownerReferencesMax, nullable: true },
  }, true),
  involvedObject: bodyRef,
  regarding: bodyRef,
  related: bodyRef,
  target: bodyRef,
  details: obj({ uid: nstr(LIMITS.uidMax), name: nstr(LIMITS.nameMax) }, true),
  spec: obj({
    claimRef: bodyRef,
    boundObjectRef: bodyRef,
    volumeName: nstr(LIMITS.nameMax),
    nodeName: nstr(LIMITS.nameMax),
  }, true),
});

/**
 * Top-level fields other than the identity ones validate.ts checks by hand (kind, apiVersion,
 * auditID, stage, timestamps, level, verb, requestURI, user presence).
 */
export const EVENT_FIELDS: Record<string, Rule> = {
  user,
  impersonatedUser: user,
  sourceIPs: { t: 'arr', of: str(LIMITS.sourceIpMax), max: LIMITS.sourceIpsMax },
  userAgent: str(LIMITS.userAgentMax),
  objectRef: obj({
    resource: str(LIMITS.resourceMax),
    namespace: str(LIMITS.namespaceMax),
    name: str(LIMITS.nameMax),
    uid: str(LIMITS.uidMax),
    apiGroup: str(LIMITS.apiGroupMax),
    apiVersion: str(LIMITS.versionMax),
    resourceVersion: str(LIMITS.versionMax),
    subresource: str(LIMITS.resourceMax),
  }),
  responseStatus: obj({
    code: { t: 'int', min: 0, max: 999 },
    status: str(LIMITS.statusMax),
    reason: str(LIMITS.reasonMax),
    message: str(LIMITS.messageMax),
  }),
  annotations: { t: 'map', of: str(LIMITS.annotationValueMax), max: LIMITS.annotationsMax, keyMax: LIMITS.annotationKeyMax },
};

/** body rule, applied when requestObject / responseObject is an object (not an array or scalar) */
export const BODY_RULE = body;

/** why a value does not fit: `code` is a short stable reason (metric label), `detail` names the path */
export interface Violation { code: 'wrong-type' | 'too-long' | 'too-many' | 'bad-format' | 'out-of-range'; detail: string }

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * The path of the value being checked, as segments (".name", "[3]", '["key"]'): pushed and
 * popped while walking, joined only for a violation, so a valid event builds no strings.
 */
const trail: string[] = [];
const at = (): string => trail.join('');

/** First violation of `v` against `rule` at `path`, or undefined. `undefined` values are always fine (absent). */
export function check(v: unknown, rule: Rule, path: string): Violation | undefined {
  trail.length = 0;
  trail.push(path);
  return walk(v, rule);
}

function walk(v: unknown, rule: Rule): Violation | undefined {
  if (v === undefined) return undefined;
  if (v === null) return rule.nullable ? undefined : { code: 'wrong-type', detail: `${at()} must not be null` };
  switch (rule.t) {
    case 'str':
      if (typeof v !== 'string') return { code: 'wrong-type', detail: `${at()} must be a string, got ${typeName(v)}` };
      if (v.length > rule.max) return { code: 'too-long', detail: `${at()} is ${v.length} characters, at most ${rule.max}` };
      if (rule.re && !rule.re.test(v)) return { code: 'bad-format', detail: `${at()} is not ${rule.what ?? 'well-formed'}` };
      return undefined;
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) return { code: 'wrong-type', detail: `${at()} must be an integer, got ${typeName(v)}` };
      if (v < rule.min || v > rule.max) return { code: 'out-of-range', detail: `${at()} is ${v}, expected ${rule.min}..${rule.max}` };
      return undefined;
    case 'obj': {
      if (!isPlainObject(v)) return { code: 'wrong-type', detail: `${at()} must be an object, got ${typeName(v)}` };
      const fields = rule.fields;
      for (const k in fields) {
        const x = v[k];
        if (x === undefined) continue;
        trail.push('.' + k);
        const bad = walk(x, fields[k]!);
        if (bad) return bad;
        trail.pop();
      }
      return undefined;
    }
    case 'arr': {
      if (!Array.isArray(v)) return { code: 'wrong-type', detail: `${at()} must be an array, got ${typeName(v)}` };
      if (v.length > rule.max) return { code: 'too-many', detail: `${at()} has ${v.length} items, at most ${rule.max}` };
      for (let i = 0; i < v.length; i++) {
        // array items are never absent: undefined/null items are wrong unless the item rule allows null
        const item = v[i];
        if (item === undefined) return { code: 'wrong-type', detail: `${at()}[${i}] is missing` };
        if (typeof item === 'string' && rule.of.t === 'str' && item.length <= rule.of.max && !rule.of.re) continue;
        trail.push(`[${i}]`);
        const bad = walk(item, rule.of);
        if (bad) return bad;
        trail.pop();
      }
      return undefined;
    }
    case 'map': {
      if (!isPlainObject(v)) return { code: 'wrong-type', detail: `${at()} must be an object, got ${typeName(v)}` };
      let n = 0;
      for (const _ in v) n++;
      if (n > rule.max) return { code: 'too-many', detail: `${at()} has ${n} keys, at most ${rule.max}` };
      for (const k in v) {
        if (k.length > rule.keyMax) return { code: 'too-long', detail: `${at()} has a key of ${k.length} characters, at most ${rule.keyMax}` };
        const x = v[k];
        if (typeof x === 'string' && rule.of.t === 'str' && x.length <= rule.of.max && !rule.of.re) continue;
        trail.push(`[${JSON.stringify(k.length > 40 ? k.slice(0, 40) + '…' : k)}]`);
        const bad = walk(x, rule.of);
        if (bad) return bad;
        trail.pop();
      }
      return undefined;
    }
  }
}

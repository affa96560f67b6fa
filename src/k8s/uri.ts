/** What a requestURI says besides the object: query parameters and selectors. */

/** A query parameter of a request URI, decoded; undefined when absent. */
export function queryParam(uri: string | undefined, key: string): string | undefined {
  if (!uri) return undefined;
  const q = uri.indexOf('?');
  if (q < 0) return undefined;
  for (const part of uri.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    if (k !== key) continue;
    const v = eq < 0 ? '' : part.slice(eq + 1);
    try { return decodeURIComponent(v.replace(/\+/g, ' ')); } catch { return v; }
  }
  return undefined;
}

/** The value a label or field selector requires for `key` (`key=v` or `key==v`), else undefined. */
export function selectorValue(selector: string, key: string): string | undefined {
  for (const term of selector.split(',')) {
    const m = /^\s*([^=!\s]+)\s*==?\s*([^,\s]*)\s*$/.exec(term);
    if (m && m[1] === key) return m[2];
  }
  return undefined;
}

/** Whether the request was a dry run (`dryRun=All`): it changes nothing. */
export function isDryRun(uri: string | undefined): boolean {
  const v = queryParam(uri, 'dryRun');
  return v !== undefined && v !== '';
}

/**
 * The object a request names by field selector (`fieldSelector=metadata.name=<name>`): kubectl
 * `rollout status`, `wait` and `delete --wait` watch one object that way, right after reading
 * or deleting it by name.
 */
export function selectedName(uri: string | undefined): string | undefined {
  const sel = queryParam(uri, 'fieldSelector');
  return sel ? selectorValue(sel, 'metadata.name') || undefined : undefined;
}

/**
 * API discovery paths: `/api`, `/api/<v>`, `/apis`, `/apis/<group>`, `/apis/<group>/<v>`
 * (built-in and custom groups alike), `/openapi/v2`, `/openapi/v3[/<group-version>]` and
 * `/version`, with or without a query. A path with a resource after the version
 * (`/apis/apps/v1/deployments`, `/api/v1/namespaces/x/pods`) is not discovery.
 */
const DISCOVERY_PATH = /^\/(?:api(?:\/[^/?]+)?|apis(?:\/[^/?]+){0,2}|openapi(?:\/[^?]*)?|version)\/?(?:\?|$)/;

/** Whether a request URI is an API discovery path (see DISCOVERY_PATH). */
export function isDiscoveryPath(uri: string | undefined): boolean {
  return !!uri && DISCOVERY_PATH.test(uri);
}

/**
 * Whether a request is an API discovery read: a GET of a discovery path that names no resource.
 * Clients (kubectl, helm, controllers) send them to refresh their discovery cache, whatever
 * they do next.
 */
export function isDiscoveryRequest(ev: { verb?: string; requestURI?: string; objectRef?: { resource?: string } }): boolean {
  return ev.verb === 'get' && !ev.objectRef?.resource && isDiscoveryPath(ev.requestURI);
}

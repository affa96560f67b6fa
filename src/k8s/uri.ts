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

/**
 * Cluster names and the ids they scope. Every event, context and member belongs to one
 * Kubernetes cluster; auditIDs are unique only within the apiserver that issued them (two
 * clusters can — and a restored backup or a copied audit log will — repeat them), so every id
 * kontext stores is `<cluster>/<auditID>`, the default cluster included: one rule, no special
 * case for the first cluster, and a document's id alone says where it came from.
 */

/** The cluster of events that name none (no tag match, no record key, no webhook path). */
export const DEFAULT_CLUSTER = 'default';

/**
 * 1–63 characters of A–Z a–z 0–9 . _ - starting with a letter or digit: what cluster names,
 * kubeconfig contexts and Fluent Bit tag parts use, bounded like a DNS label (63) so that
 * `<cluster>/<auditID>` stays far below Elasticsearch's 512-byte `_id` limit (auditIDs are at
 * most 128, see normalize's LIMITS). No `/`: it separates the cluster from the auditID.
 */
export const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function isClusterName(s: unknown): s is string {
  return typeof s === 'string' && CLUSTER_NAME.test(s);
}

/** `<cluster>/<id>`: the stored id of a context or member of `cluster`. */
export function scopedId(cluster: string, id: string): string {
  return `${cluster}/${id}`;
}

/** The cluster and the unscoped id of a stored id; an id without a cluster (stored before clusters) is the default cluster's. */
export function splitScopedId(id: string, fallback = DEFAULT_CLUSTER): { cluster: string; id: string } {
  const i = id.indexOf('/');
  if (i <= 0) return { cluster: fallback, id };
  const cluster = id.slice(0, i);
  return isClusterName(cluster) ? { cluster, id: id.slice(i + 1) } : { cluster: fallback, id };
}

/** "a, b,c" → ["a", "b", "c"]; throws on a name that is not a cluster name. */
export function parseClusterList(s: string | undefined): string[] {
  const out = (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  for (const c of out) if (!isClusterName(c)) throw new Error(`not a cluster name: ${JSON.stringify(c)} (1-63 of A-Z a-z 0-9 . _ -)`);
  return [...new Set(out)];
}

/**
 * The cluster a forward tag names, by a regular expression whose group `cluster` (or, without
 * one, its first group) is the name; undefined when the tag does not match or the group is not
 * a cluster name (the record then takes the default).
 */
export function tagClusterMatcher(pattern: string | undefined): ((tag: string) => string | undefined) | undefined {
  if (!pattern) return undefined;
  const re = new RegExp(`^(?:${pattern})$`);
  const cache = new Map<string, string | undefined>();
  return (tag) => {
    if (cache.has(tag)) return cache.get(tag);
    const m = re.exec(tag);
    const name = m ? (m.groups?.cluster ?? m[1]) : undefined;
    const out = isClusterName(name) ? name : undefined;
    if (cache.size < 10_000) cache.set(tag, out);
    return out;
  };
}

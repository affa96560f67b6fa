/**
 * The Contexts view's search, three ways: as the URL query string (so a search can be shared
 * and reloaded), as the form's state, and as the GraphQL `ContextFilter`. Pure: no DOM.
 *
 * Each dimension is one row of DIMENSIONS; a new dimension is one more row with its GraphQL
 * filter field.
 */
export type DimensionKind = 'list' | 'enum' | 'time' | 'text';

export interface Dimension {
  /** URL parameter and form field */
  key: string;
  label: string;
  /** ContextFilter field */
  gql: string;
  kind: DimensionKind;
  /** enum values (GraphQL names) */
  values?: readonly string[];
  placeholder?: string;
}

export const OUTCOMES = ['SUCCESS', 'FAILURE', 'FORBIDDEN', 'PARTIAL'] as const;
export const FLAGS = [
  'SECRET_READ', 'EXEC', 'ATTACH', 'PORTFORWARD', 'RBAC_CHANGE', 'CSR_APPROVAL', 'ANONYMOUS',
  'FORBIDDEN_BURST', 'IMPERSONATION', 'PRIVILEGED_POD',
] as const;

export const DIMENSIONS: readonly Dimension[] = [
  { key: 'cluster', label: 'Cluster', gql: 'cluster', kind: 'list', placeholder: 'prod-eu-1' },
  { key: 'user', label: 'User', gql: 'triggeredBy', kind: 'list', placeholder: 'alice' },
  { key: 'action', label: 'Action', gql: 'label', kind: 'list', placeholder: 'create apps/deployments' },
  { key: 'namespace', label: 'Namespace', gql: 'namespace', kind: 'list', placeholder: 'shop' },
  { key: 'resource', label: 'Resource', gql: 'resource', kind: 'list', placeholder: 'apps/deployments' },
  { key: 'name', label: 'Name', gql: 'name', kind: 'list', placeholder: 'web' },
  { key: 'flag', label: 'Flag', gql: 'flag', kind: 'enum', values: FLAGS },
  { key: 'outcome', label: 'Outcome', gql: 'outcome', kind: 'enum', values: OUTCOMES },
  { key: 'from', label: 'From', gql: 'from', kind: 'time', placeholder: 'now-24h' },
  { key: 'to', label: 'To', gql: 'to', kind: 'time', placeholder: 'now' },
  { key: 'q', label: 'Text', gql: 'text', kind: 'text', placeholder: 'free text' },
];

/** Form/URL state: every dimension's raw string ('' = unset). Lists are comma-separated. */
export type UiFilter = Record<string, string>;

export function emptyFilter(): UiFilter {
  return Object.fromEntries(DIMENSIONS.map((d) => [d.key, '']));
}

function splitList(v: string): string[] {
  return v.split(',').map((x) => x.trim()).filter(Boolean);
}

/** URL query string (with or without `?`) → filter; unknown parameters are ignored. */
export function parseSearch(search: string): UiFilter {
  const p = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
  const f = emptyFilter();
  for (const d of DIMENSIONS) {
    const all = p.getAll(d.key).map((v) => v.trim()).filter(Boolean);
    if (!all.length) continue;
    let v = all.join(',');
    if (d.kind === 'list') v = splitList(v).join(',');
    else if (d.kind === 'enum') v = splitList(v).map((x) => x.toUpperCase().replace(/-/g, '_')).filter((x) => d.values!.includes(x)).join(',');
    f[d.key] = v;
  }
  return f;
}

/** filter → URL query string without `?` ('' when nothing is set), in DIMENSIONS order. */
export function toSearch(f: UiFilter): string {
  const p = new URLSearchParams();
  for (const d of DIMENSIONS) {
    const v = (f[d.key] ?? '').trim();
    if (v) p.set(d.key, d.kind === 'list' || d.kind === 'enum' ? splitList(v).join(',') : v);
  }
  return p.toString();
}

/** filter → GraphQL `ContextFilter` (unset dimensions left out). */
export function toGraphqlFilter(f: UiFilter): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const d of DIMENSIONS) {
    const v = (f[d.key] ?? '').trim();
    if (!v) continue;
    if (d.kind === 'list' || d.kind === 'enum') out[d.gql] = splitList(v);
    else if (d.kind === 'time' && /^\d+$/.test(v)) out[d.gql] = Number(v);
    else out[d.gql] = v;
  }
  return out;
}

/** A filter whose only value is `key=value` (links from a context to its user, namespace, ...). */
export function searchFor(key: string, value: string): string {
  return toSearch({ ...emptyFilter(), [key]: value });
}

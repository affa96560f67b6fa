/**
 * How a Helm 3 release shows in the audit log, whatever the audit level: the release record
 * Secret `sh.helm.release.v1.<release>.v<N>` (created pending-install / pending-upgrade,
 * updated to deployed or failed, deleted on uninstall) and the history check, a list of
 * secrets with `labelSelector=name=<release>,owner=helm`, that every helm command starts with
 * (and that upgrade and rollback repeat with `,status=deployed` before they finish).
 */
import type { AuditEvent } from '../types/audit.ts';
import { queryParam, selectorValue } from './uri.ts';

const RELEASE_SECRET = /^sh\.helm\.release\.v1\.(.+)\.v(\d+)$/;

/** Release and revision of a release record Secret name, or undefined. */
export function releaseSecret(name: string | undefined): { release: string; version: number } | undefined {
  const m = name ? RELEASE_SECRET.exec(name) : null;
  return m ? { release: m[1]!, version: Number(m[2]) } : undefined;
}

export interface HelmRef {
  release: string;
  /** the release's namespace */
  ns: string;
  /**
   * the history check (a command starts), the release record, or a lookup of the deployed
   * revision (`status=deployed` in the selector: upgrade and rollback ask for it at their end,
   * to mark it superseded; it continues the command, never starts one)
   */
  via: 'history' | 'record' | 'lookup';
  version?: number;
}

/** The helm release a request names, if it is a history check or touches a release record. */
export function helmRefOf(a: AuditEvent): HelmRef | undefined {
  const o = a.objectRef;
  if (o?.resource !== 'secrets' || o.apiGroup) return undefined;
  const ns = o.namespace ?? '';
  if (a.verb === 'list' && !o.name) {
    const sel = queryParam(a.requestURI, 'labelSelector');
    if (sel && selectorValue(sel, 'owner') === 'helm') {
      const release = selectorValue(sel, 'name');
      if (release) return { release, ns, via: selectorValue(sel, 'status') !== undefined ? 'lookup' : 'history' };
    }
    return undefined;
  }
  const rec = releaseSecret(o.name);
  return rec ? { release: rec.release, ns, via: 'record', version: rec.version } : undefined;
}

/**
 * `helm list`: a list of the release records of a namespace (`labelSelector=owner=helm`, no
 * release name). It reads; it belongs to no release.
 */
export function isReleaseListing(a: AuditEvent): boolean {
  const o = a.objectRef;
  if (o?.resource !== 'secrets' || o.apiGroup || o.name || a.verb !== 'list') return false;
  const sel = queryParam(a.requestURI, 'labelSelector');
  return !!sel && selectorValue(sel, 'owner') === 'helm' && selectorValue(sel, 'name') === undefined;
}

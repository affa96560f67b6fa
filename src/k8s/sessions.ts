/**
 * Action sessions that outlive a burst of requests: a helm release is one action keyed by
 * the release, from its history check (`labelSelector=name=<rel>,owner=helm`) and release
 * record through every object of its chart (in its namespace, in other namespaces, cluster
 * scoped), hook Jobs and `--wait` polls, to the record's final update. The labeler's tracer
 * and the clusterer each keep one tracker, so they attribute the same requests alike.
 */
import type { AuditEvent } from '../types/audit.ts';
import { helmRefOf } from './helm.ts';
import { clientFamily } from './identity.ts';
import { ATTRIBUTION, type AttributionParams } from './params.ts';

export interface ReleaseSession {
  /** stable id: "<user>|<ns>/<release>@<start>" */
  id: string;
  user: string;
  release: string;
  ns: string;
  start: number;
  /** time of the person's latest request in it */
  last: number;
  /** the first change that took effect in it (the release record create of install/upgrade) */
  changed: boolean;
}

export type ReleaseVia = 'release-record' | 'release-history' | 'release-namespace' | 'release-name' | 'release-burst';

export interface ReleaseMatch { session: ReleaseSession; via: ReleaseVia }

const MAX_SESSIONS_PER_USER = 16;
const MAX_USERS = 10_000;

/**
 * The release a name is named after among `sessions` (helm charts prefix their objects with
 * the release name): the longest such release name, then one in namespace `ns`, then the latest.
 */
function byPrefix(name: string | undefined, ns: string | undefined, sessions: Iterable<ReleaseSession>, notAfter = Infinity): ReleaseSession | undefined {
  if (!name) return undefined;
  let best: ReleaseSession | undefined;
  for (const s of sessions) {
    if (s.start > notAfter || !namedAfter(name, s.release)) continue;
    if (!best) { best = s; continue; }
    const longer = s.release.length - best.release.length;
    const here = (s.ns === ns ? 1 : 0) - (best.ns === ns ? 1 : 0);
    if (longer > 0 || (longer === 0 && (here > 0 || (here === 0 && s.start > best.start)))) best = s;
  }
  return best;
}

/** Whether `name` is `release` or starts with it at a '-', '.' or ':' boundary (see namePrefixes). */
function namedAfter(name: string, release: string): boolean {
  if (!name.startsWith(release)) return false;
  if (name.length === release.length) return true;
  const ch = name[release.length];
  return ch === '-' || ch === '.' || ch === ':';
}

export class ReleaseTracker {
  private readonly byUser = new Map<string, ReleaseSession[]>();
  /** every live session, newest last (for components' lookups by namespace and name) */
  private live: ReleaseSession[] = [];

  constructor(private readonly p: AttributionParams = ATTRIBUTION) {}

  /**
   * A person's request: the release session it belongs to (starting one on a history check
   * or a release record nobody tracks yet), or undefined. kubectl's requests are never part
   * of a release.
   */
  person(a: AuditEvent, t: number): ReleaseMatch | undefined {
    const user = a.user?.username;
    if (!user) return undefined;
    const fam = clientFamily(a.userAgent);
    if (fam === 'kubectl') return undefined;
    const ref = helmRefOf(a);
    let list = this.byUser.get(user);
    if (list) list = list.filter((s) => t - s.last <= this.p.releaseIdleMs);
    if (ref) {
      // the same release: continue it, unless a history check starts the next command
      let s = list?.find((x) => x.release === ref.release && x.ns === ref.ns);
      if (s && ref.via === 'history' && t - s.start > this.p.releaseStepMs) s = undefined;
      if (!s) {
        s = { id: `${user}|${ref.ns}/${ref.release}@${t}`, user, release: ref.release, ns: ref.ns, start: t, last: t, changed: false };
        list = [...(list ?? []).filter((x) => !(x.release === ref.release && x.ns === ref.ns)), s].slice(-MAX_SESSIONS_PER_USER);
        this.live.push(s);
      }
      s.last = Math.max(s.last, t);
      this.save(user, list!);
      return { session: s, via: ref.via === 'history' ? 'release-history' : 'release-record' };
    }
    if (!list?.length) { if (list) this.save(user, list); return undefined; }
    this.save(user, list);
    const o = a.objectRef;
    const name = o?.name;
    let s: ReleaseSession | undefined; let via: ReleaseVia | undefined;
    // the release in the request's namespace first (two releases may share a name in different namespaces)
    if (o?.namespace) {
      for (let i = list.length - 1; i >= 0; i--) if (list[i]!.ns === o.namespace) { s = list[i]; via = 'release-namespace'; break; }
    }
    if (!s) {
      const named = byPrefix(name, o?.namespace, list);
      if (named) { s = named; via = 'release-name'; }
    }
    if (!s && o?.resource === 'namespaces' && name) {
      for (let i = list.length - 1; i >= 0; i--) if (list[i]!.ns === name) { s = list[i]; via = 'release-namespace'; break; }
    }
    if (!s) {
      const latest = list.reduce((x, y) => (y.last > x.last ? y : x));
      if (t - latest.last <= this.p.releaseStepMs) { s = latest; via = 'release-burst'; }
    }
    if (!s) return undefined;
    s.last = Math.max(s.last, t);
    return { session: s, via: via! };
  }

  /**
   * A component's request: the release whose cascade it is by name (an object named after the
   * release, in any namespace or cluster scope; an Event about one) while the release is
   * within the origin horizon.
   */
  component(a: AuditEvent, t: number): ReleaseMatch | undefined {
    this.prune(t);
    const name = a.objectRef?.name;
    if (!name || !this.live.length) return undefined;
    const s = byPrefix(name, a.objectRef?.namespace, this.live, t);
    return s ? { session: s, via: 'release-name' } : undefined;
  }

  /** The live sessions as plain values (restart checkpoint; sessions shared by both views stay shared). */
  snapshotState(): { byUser: Array<[string, ReleaseSession[]]>; live: ReleaseSession[] } {
    return { byUser: [...this.byUser], live: this.live };
  }

  restoreState(s: { byUser?: Array<[string, ReleaseSession[]]>; live?: ReleaseSession[] } | undefined): void {
    this.byUser.clear();
    for (const [u, list] of s?.byUser ?? []) this.byUser.set(u, list);
    this.live = s?.live ?? [];
  }

  private save(user: string, list: ReleaseSession[]): void {
    this.byUser.delete(user);
    if (list.length) this.byUser.set(user, list);
    if (this.byUser.size > MAX_USERS) this.byUser.delete(this.byUser.keys().next().value as string);
  }

  private prune(t: number): void {
    if (this.live.length && t - this.live[0]!.last > this.p.originHorizonMs) {
      this.live = this.live.filter((s) => t - s.last <= this.p.originHorizonMs);
    }
  }
}

/**
 * The simulated cluster's state: nodes, namespaces and every object a scenario created,
 * indexed by resource, name, uid and owner, so later actions (scale, delete, exec, garbage
 * collection) act on objects that exist and cascades reference real owner UIDs.
 */
import type { Actor } from './identity.ts';
import type { Body } from './objects.ts';

export interface Obj {
  /** resource key ("apps/deployments", "pods") */
  res: string;
  ns?: string;
  name: string;
  uid: string;
  body: Body;
  /** µs the create completed */
  createdAt: number;
  /** µs until which a running cascade still touches this object; actions pick idle objects */
  busyUntil: number;
  gone: boolean;
  ownerUid?: string;
  /** pods: the node they run on once bound */
  node?: string;
  /** workloads: app label shared by deployment, service, pods */
  app?: string;
  /** extra per-kind state (image pulled, ready time, helm release, ...) */
  x: Record<string, any>;
}

export interface SimNode {
  name: string;
  ip: string;
  uid: string;
  kubelet: Actor;
  podCidr: string;
  nextPodIp: number;
  images: Set<string>;
  /** pods bound to this node and not yet removed */
  pods: number;
  body: Body;
  leaseUid: string;
}

const key = (res: string, ns: string | undefined, name: string) => `${res}|${ns ?? ''}|${name}`;

export class ClusterState {
  readonly nodes: SimNode[] = [];
  private readonly byKey = new Map<string, Obj>();
  private readonly byUid = new Map<string, Obj>();
  private readonly byRes = new Map<string, Map<string, Obj>>();
  private readonly byOwner = new Map<string, Set<Obj>>();
  private lastRv = 0;
  private readonly byName = new Map<string, SimNode>();

  constructor(private readonly start: number, private readonly baseRv: number) {}

  /** etcd revision at time t: grows with time, unique per call */
  rv(t: number): string {
    const v = Math.max(this.lastRv + 1, this.baseRv + Math.floor((t - this.start) / 200));
    this.lastRv = Math.max(this.lastRv, v);
    return String(v);
  }

  add(o: Omit<Obj, 'gone' | 'x' | 'busyUntil'> & Partial<Pick<Obj, 'x' | 'busyUntil'>>): Obj {
    const obj: Obj = { ...o, gone: false, x: o.x ?? {}, busyUntil: o.busyUntil ?? o.createdAt };
    this.byKey.set(key(obj.res, obj.ns, obj.name), obj);
    this.byUid.set(obj.uid, obj);
    let m = this.byRes.get(obj.res);
    if (!m) this.byRes.set(obj.res, (m = new Map()));
    m.set(obj.uid, obj);
    if (obj.ownerUid) {
      let s = this.byOwner.get(obj.ownerUid);
      if (!s) this.byOwner.set(obj.ownerUid, (s = new Set()));
      s.add(obj);
    }
    return obj;
  }

  remove(o: Obj): void {
    if (o.gone) return;
    o.gone = true;
    if (o.res === 'pods' && o.node) { const n = this.nodes.find((x) => x.name === o.node); if (n) n.pods--; }
    if (this.byKey.get(key(o.res, o.ns, o.name)) === o) this.byKey.delete(key(o.res, o.ns, o.name));
    this.byUid.delete(o.uid);
    this.byRes.get(o.res)?.delete(o.uid);
    if (o.ownerUid) {
      const s = this.byOwner.get(o.ownerUid);
      s?.delete(o);
      if (s && !s.size) this.byOwner.delete(o.ownerUid);
    }
  }

  get(res: string, ns: string | undefined, name: string): Obj | undefined { return this.byKey.get(key(res, ns, name)); }
  byId(uid: string): Obj | undefined { return this.byUid.get(uid); }
  exists(res: string, ns: string | undefined, name: string): boolean { return this.byKey.has(key(res, ns, name)); }

  list(res: string, ns?: string, filter?: (o: Obj) => boolean): Obj[] {
    const m = this.byRes.get(res);
    if (!m) return [];
    const out: Obj[] = [];
    for (const o of m.values()) if ((ns === undefined || o.ns === ns) && (!filter || filter(o))) out.push(o);
    return out;
  }

  children(uid: string, res?: string): Obj[] {
    const s = this.byOwner.get(uid);
    if (!s) return [];
    return [...s].filter((o) => !res || o.res === res);
  }

  /** every object in a namespace */
  inNamespace(ns: string): Obj[] {
    const out: Obj[] = [];
    for (const m of this.byRes.values()) for (const o of m.values()) if (o.ns === ns) out.push(o);
    return out;
  }

  /** Marks objects busy until `until` (their namespace too). */
  busy(until: number, ...objs: (Obj | undefined)[]): void {
    for (const o of objs) {
      if (!o) continue;
      o.busyUntil = Math.max(o.busyUntil, until);
      if (o.ns) { const n = this.get('namespaces', undefined, o.ns); if (n) n.busyUntil = Math.max(n.busyUntil, until); }
    }
  }

  /** binds a pod to a node (counts it for scheduling) */
  bind(pod: Obj, node: SimNode): void {
    if (pod.node) return;
    pod.node = node.name;
    node.pods++;
  }

  node(name: string): SimNode {
    const n = this.byName.get(name) ?? this.nodes.find((x) => x.name === name);
    if (n) this.byName.set(name, n);
    if (!n) throw new Error(`simulator: no node ${name}`);
    return n;
  }
}

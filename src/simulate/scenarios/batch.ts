/** Jobs and CronJobs: pods that run to completion, job tracking finalizers, scheduled runs. */
import type { Obj } from '../cluster.ts';
import { createObject, createPod, kubeletStartPod, recordEvent, schedulePod, updateObject, deleteObject } from '../kube.ts';
import { podTemplate, snap, type Body } from '../objects.ts';
import type { Act } from '../sim.ts';
import { MS, SEC, rfc3339Sec } from '../time.ts';
import { garbageCollect } from '../workloads.ts';
import { idle, kubectlQuery, pickNamespace, uniqueName } from './common.ts';
import type { Scenario } from './types.ts';

const JOBS = [
  { name: 'db-backup', image: 'postgres:16.2', command: ['sh', '-c', 'pg_dump -h db -U app app > /backup/app.sql'] },
  { name: 'report', image: 'ghcr.io/acme/reports:v1.3.0', command: ['/app/report', '--daily'] },
  { name: 'migrate', image: 'ghcr.io/acme/api:v2.7.1', command: ['/app/api', 'migrate', 'up'] },
  { name: 'cleanup', image: 'busybox:1.36', command: ['sh', '-c', 'find /data -mtime +7 -delete'] },
  { name: 'pi', image: 'perl:5.34.0', command: ['perl', '-Mbignum=bpi', '-wle', 'print bpi(2000)'] },
];

const TRACKING = 'batch.kubernetes.io/job-tracking';

export function jobSpec(uid: string, name: string, tpl: Body): Body {
  const labels = { 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': name, 'controller-uid': uid, 'job-name': name };
  const template = snap(tpl);
  template.metadata.labels = { ...(template.metadata.labels ?? {}), ...labels };
  return {
    parallelism: 1, completions: 1, backoffLimit: 6, selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } }, manualSelector: false,
    template, completionMode: 'NonIndexed', suspend: false, podReplacementPolicy: 'TerminatingOrFailed',
  };
}

function jobStatus(job: Obj, t: number, s: { active?: number; ready?: number; succeeded?: number; failed?: number; uncounted?: Body; complete?: boolean }): Body {
  return {
    ...(job.x.startTime ? { startTime: job.x.startTime } : { startTime: rfc3339Sec(t) }),
    ...(s.active ? { active: s.active } : {}),
    ...(s.succeeded ? { succeeded: s.succeeded } : {}),
    ...(s.failed ? { failed: s.failed } : {}),
    ...(s.complete ? {
      completionTime: rfc3339Sec(t),
      conditions: [
        { type: 'SuccessCriteriaMet', status: 'True', lastProbeTime: rfc3339Sec(t), lastTransitionTime: rfc3339Sec(t), reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' },
        { type: 'Complete', status: 'True', lastProbeTime: rfc3339Sec(t), lastTransitionTime: rfc3339Sec(t), reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' },
      ],
    } : {}),
    uncountedTerminatedPods: s.uncounted ?? {}, ready: s.ready ?? 0, terminating: 0,
  };
}

/**
 * The Job controller runs a job: a pod with the tracking finalizer, status updates as it
 * starts and ends, the finalizer removed, completion. A failing first pod is replaced.
 */
export function jobRun(a: Act, t: number, job: Obj, opts: { failFirst?: boolean; onDone?: (t: number) => number } = {}): number {
  const rng = a.rng;
  const ctl = a.sys.ctrl['job-controller'];
  let succeeded = 0; let failed = 0;
  let end = t;
  const attempt = (ta: number, fail: boolean): void => {
    const { pod, end: pend } = createPod(a, ta, {
      actor: ctl, ns: job.ns!, template: job.body.spec.template, owner: { obj: job, apiVersion: 'batch/v1', kind: 'Job' },
      generateName: `${job.name}-`, manager: 'kube-controller-manager', finalizers: [TRACKING],
    });
    (job.x.pods ??= []).push(pod);
    let e = recordEvent(a, pend + Math.round(rng.around(1 * MS)), ctl, job, 'Job', 'batch/v1', 'SuccessfulCreate', `Created pod: ${pod.name}`, { component: 'job-controller' });
    job.x.startTime ??= rfc3339Sec(pend);
    e = updateObject(a, { actor: ctl, at: e + Math.round(rng.around(2 * MS)), obj: job, sub: 'status', manager: 'kube-controller-manager', mutate: (b) => { b.status = jobStatus(job, pend, { active: 1, succeeded, failed }); }, conflictP: 0.1 });
    const bound = schedulePod(a, pend, pod);
    const r = kubeletStartPod(a, bound, pod, {
      onReady: (tr) => updateObject(a, { actor: ctl, at: tr + Math.round(rng.around(5 * MS)), obj: job, sub: 'status', manager: 'kube-controller-manager', mutate: (b) => { b.status = jobStatus(job, tr, { active: 1, ready: 1, succeeded, failed }); } }),
      onDone: (td, ok) => {
        let x = updateObject(a, { actor: ctl, at: td + Math.round(rng.around(6 * MS)), obj: job, sub: 'status', manager: 'kube-controller-manager', mutate: (b) => { b.status = jobStatus(job, td, { succeeded, failed, uncounted: ok ? { succeeded: [pod.uid] } : { failed: [pod.uid] } }); } });
        // the tracking finalizer is removed once the pod is counted
        x = updateObject(a, {
          actor: ctl, at: x + Math.round(rng.around(2 * MS)), obj: pod, verb: 'patch', manager: 'kube-controller-manager',
          patch: { metadata: { '$deleteFromPrimitiveList/finalizers': [TRACKING] } }, mutate: (b) => { delete b.metadata.finalizers; },
        });
        if (ok) succeeded++; else failed++;
        const complete = ok;
        x = updateObject(a, { actor: ctl, at: x + Math.round(rng.around(3 * MS)), obj: job, sub: 'status', manager: 'kube-controller-manager', mutate: (b) => { b.status = jobStatus(job, x, { succeeded, failed, complete }); } });
        if (complete) {
          job.x.completedAt = x;
          x = recordEvent(a, x + Math.round(rng.around(1 * MS)), ctl, job, 'Job', 'batch/v1', 'Completed', 'Job completed', { component: 'job-controller' });
          if (opts.onDone) x = Math.max(x, opts.onDone(x));
        } else {
          // back-off before the replacement pod
          attempt(x + Math.round(rng.around(10 * SEC, 0.2)), false);
        }
        return x;
      },
    }, { runFor: rng.around(6 * SEC, 0.6, 1 * SEC, 60 * SEC), fail });
    end = Math.max(end, e, r.end);
  };
  attempt(t + Math.round(rng.around(3 * MS)), !!opts.failFirst);
  a.cluster.busy(end, job);
  return end;
}

function jobRequest(ns: string, name: string, spec: (typeof JOBS)[number], owner?: Body, annotations?: Record<string, string>): Body {
  const tpl = podTemplate({}, [{ name: spec.name, image: spec.image, command: spec.command }], { restartPolicy: 'Never' });
  return {
    kind: 'Job', apiVersion: 'batch/v1',
    metadata: { name, namespace: ns, creationTimestamp: null, ...(owner ? { ownerReferences: [owner] } : {}), ...(annotations ? { annotations } : {}), ...(owner ? { labels: {} } : {}) },
    spec: { template: tpl }, status: {},
  };
}

export const jobCreate: Scenario = {
  name: 'job-create', shrink: 'job-delete', summary: 'kubectl create job: job controller runs a pod to completion (tracking finalizer, status, Completed event)',
  trigger: 'create batch/jobs', weight: 2,
  run(sim, user, t0) {
    const a = sim.action(user, t0, { verb: 'create', res: 'batch/jobs' });
    const ns = pickNamespace(a);
    const spec = sim.rng.pick(JOBS);
    const name = uniqueName(sim, 'batch/jobs', ns, `${spec.name}-${sim.rng.suffix(4)}`);
    const t = a.discovery(t0);
    const req = jobRequest(ns, name, spec);
    delete req.metadata.namespace;
    const job = createObject(a, {
      at: t, res: 'batch/jobs', ns, req, manager: 'kubectl-create', query: kubectlQuery('create'), trigger: true, status: {},
      defaults: (b) => { b.spec = jobSpec(b.metadata.uid, name, req.spec.template); b.metadata.labels = { 'batch.kubernetes.io/controller-uid': b.metadata.uid, 'batch.kubernetes.io/job-name': name, 'controller-uid': b.metadata.uid, 'job-name': name }; },
    });
    jobRun(a, job.createdAt, job, { failFirst: sim.rng.chance(0.1) });
    sim.cluster.busy(a.end, job);
    return a;
  },
};

/** One scheduled run of a CronJob: the job, its pod, the cronjob's status and history. */
export function cronRun(a: Act, t: number, cj: Obj): number {
  const rng = a.rng;
  const ctl = a.sys.ctrl['cronjob-controller'];
  const sched = Math.floor(t / (60 * SEC)) * 60 * SEC;
  const name = `${cj.name}-${Math.floor(sched / (60 * SEC))}`;
  if (a.cluster.exists('batch/jobs', cj.ns, name)) return t;
  const owner = { apiVersion: 'batch/v1', kind: 'CronJob', name: cj.name, uid: cj.uid, controller: true, blockOwnerDeletion: true };
  const req: Body = { kind: 'Job', apiVersion: 'batch/v1', metadata: { name, namespace: cj.ns, creationTimestamp: null, labels: {}, annotations: { 'batch.kubernetes.io/cronjob-scheduled-timestamp': rfc3339Sec(sched) }, ownerReferences: [owner] }, spec: snap(cj.body.spec.jobTemplate.spec), status: {} };
  const job = createObject(a, {
    actor: ctl, at: t + Math.round(rng.around(4 * MS)), res: 'batch/jobs', ns: cj.ns, req, manager: 'kube-controller-manager', owner: cj, status: {},
    defaults: (b) => { b.spec = jobSpec(b.metadata.uid, name, req.spec.template); b.metadata.labels = { 'batch.kubernetes.io/controller-uid': b.metadata.uid, 'batch.kubernetes.io/job-name': name, 'controller-uid': b.metadata.uid, 'job-name': name }; },
  });
  let end = recordEvent(a, job.createdAt + Math.round(rng.around(1 * MS)), ctl, cj, 'CronJob', 'batch/v1', 'SuccessfulCreate', `Created job ${name}`, { component: 'cronjob-controller' });
  const active = () => a.cluster.children(cj.uid, 'batch/jobs').filter((j) => !j.x.completedAt).map((j) => ({ kind: 'Job', namespace: j.ns, name: j.name, uid: j.uid, apiVersion: 'batch/v1', resourceVersion: j.body.metadata.resourceVersion }));
  end = updateObject(a, { actor: ctl, at: end + Math.round(rng.around(2 * MS)), obj: cj, sub: 'status', manager: 'kube-controller-manager', mutate: (b) => { b.status = { ...b.status, active: active(), lastScheduleTime: rfc3339Sec(sched) }; } });
  end = Math.max(end, jobRun(a, job.createdAt, job, {
    onDone: (td) => {
      let x = updateObject(a, { actor: ctl, at: td + Math.round(rng.around(8 * MS)), obj: cj, sub: 'status', manager: 'kube-controller-manager', mutate: (b) => { const act = active(); b.status = { ...(act.length ? { active: act } : {}), lastScheduleTime: rfc3339Sec(sched), lastSuccessfulTime: rfc3339Sec(td) }; } });
      x = recordEvent(a, x + Math.round(rng.around(1 * MS)), ctl, cj, 'CronJob', 'batch/v1', 'SawCompletedJob', `Saw completed job: ${name}, status: Complete`, { component: 'cronjob-controller' });
      // history limit: the oldest finished jobs go
      const done = a.cluster.children(cj.uid, 'batch/jobs').filter((j) => j.x.completedAt && !j.gone).sort((p, q) => p.createdAt - q.createdAt);
      for (const old of done.slice(0, Math.max(0, done.length - (cj.body.spec.successfulJobsHistoryLimit ?? 3)))) {
        const e = deleteObject(a, { actor: ctl, at: x + Math.round(rng.around(3 * MS)), obj: old, propagation: 'Background' });
        x = recordEvent(a, e + Math.round(rng.around(1 * MS)), ctl, cj, 'CronJob', 'batch/v1', 'SuccessfulDelete', `Deleted job ${old.name}`, { component: 'cronjob-controller' });
        x = Math.max(x, garbageCollect(a, e, old));
      }
      return x;
    },
  }));
  return end;
}

export function nextMinute(t: number, every: number): number {
  const m = Math.floor(t / (60 * SEC)) + 1;
  return (Math.ceil(m / every) * every) * 60 * SEC;
}

/**
 * kubectl create cronjob. The trigger is the CronJob create; its first scheduled run (at the
 * next minute boundary, within a minute) belongs to the same context. Later runs are
 * background `controller` traffic (no user action causes them).
 */
export const cronjobCreate: Scenario = {
  name: 'cronjob-create', shrink: 'cronjob-delete', summary: 'kubectl create cronjob (every minute to every 10 min); first scheduled run in the context, later runs background',
  trigger: 'create batch/cronjobs', weight: 1.5,
  run(sim, user, t0) {
    const a = sim.action(user, t0, { verb: 'create', res: 'batch/cronjobs' });
    const ns = pickNamespace(a);
    const spec = sim.rng.pick(JOBS);
    const every = sim.rng.pick([1, 1, 2, 5, 10]);
    const name = uniqueName(sim, 'batch/cronjobs', ns, `${spec.name}-cron`);
    const t = a.discovery(t0);
    const tpl = podTemplate({}, [{ name: spec.name, image: spec.image, command: spec.command }], { restartPolicy: 'OnFailure' });
    const req: Body = { kind: 'CronJob', apiVersion: 'batch/v1', metadata: { name, creationTimestamp: null }, spec: { jobTemplate: { metadata: { name, creationTimestamp: null }, spec: { template: tpl } }, schedule: every === 1 ? '* * * * *' : `*/${every} * * * *` }, status: {} };
    const cj = createObject(a, {
      at: t, res: 'batch/cronjobs', ns, req, manager: 'kubectl-create', query: kubectlQuery('create'), trigger: true, status: {},
      defaults: (b) => { b.spec = { ...b.spec, concurrencyPolicy: 'Allow', suspend: false, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1 }; },
    });
    const first = nextMinute(cj.createdAt, every);
    if (first - cj.createdAt <= 60 * SEC) {
      cronRun(a, first + Math.round(sim.rng.around(15 * MS)), cj);
      cj.x.nextRun = nextMinute(first, every);
    } else cj.x.nextRun = first;
    cj.x.every = every;
    sim.cluster.busy(a.end, cj);
    return a;
  },
};

export const cronjobDelete: Scenario = {
  name: 'cronjob-delete', summary: 'kubectl delete cronjob: garbage collector removes its jobs and their pods',
  trigger: 'delete batch/cronjobs', weight: 0.7, fallback: 'cronjob-create',
  run(sim, user, t0) {
    const cjs = idle(sim, 'batch/cronjobs', t0);
    if (!cjs.length) return undefined;
    const cj = sim.rng.pick(cjs);
    const a = sim.action(user, t0, { verb: 'delete', res: 'batch/cronjobs' });
    const e = deleteObject(a, { at: a.discovery(t0), obj: cj, trigger: true, propagation: 'Background' });
    garbageCollect(a, e, cj);
    return a;
  },
};

export const jobDelete: Scenario = {
  name: 'job-delete', summary: 'kubectl delete job: its pods are garbage collected (finished pods go at once)',
  trigger: 'delete batch/jobs', weight: 0.7, fallback: 'job-create',
  run(sim, user, t0) {
    const jobs = idle(sim, 'batch/jobs', t0, (j) => !j.ownerUid);
    if (!jobs.length) return undefined;
    const job = sim.rng.pick(jobs);
    const a = sim.action(user, t0, { verb: 'delete', res: 'batch/jobs' });
    const e = deleteObject(a, { at: a.discovery(t0), obj: job, trigger: true, propagation: 'Background' });
    garbageCollect(a, e, job);
    return a;
  },
};

export const BATCH_SCENARIOS: Scenario[] = [jobCreate, jobDelete, cronjobCreate, cronjobDelete];

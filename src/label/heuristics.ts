/**
 * The tracer's attribution heuristics as a table: each has a name (the `link=` or `via=`
 * token the tracer emits when it decides an event's attribution), when it applies, what it
 * links, and the attribution parameters (k8s/params.ts) that bound it. Links to remembered
 * objects compete by recency (the latest change wins); timing heuristics apply only where no
 * link exists. The same table documents the clusterer's action-level rules, which use the
 * same parameters.
 */
import type { AttributionParams, COMMAND_SESSION } from '../k8s/params.ts';

export interface Heuristic {
  name: string;
  /** the token the tracer emits when this heuristic decides ("link=family", "via=nsperson"), or the clusterer rule */
  token: string;
  applies: string;
  links: string;
  /** attribution parameters (k8s/params.ts ATTRIBUTION), or the clusterer's command-session ones (COMMAND_SESSION) */
  params: readonly (keyof AttributionParams | keyof typeof COMMAND_SESSION)[];
}

export const HEURISTICS: readonly Heuristic[] = [
  { name: 'self', token: 'link=self', applies: 'any request naming an object (uid, or resource+namespace+name; subresources reach their object)', links: 'the latest change to that object', params: [] },
  { name: 'owner', token: 'link=owner', applies: 'bodies with ownerReferences; a body-less delete of an object whose owners were remembered and are being deleted', links: 'the owner\'s latest change', params: [] },
  { name: 'involved', token: 'link=involved', applies: 'Event bodies (involvedObject / regarding)', links: 'the object the Event is about', params: [] },
  { name: 'event-name', token: 'link=event', applies: 'an Event named <object>.<hex> (every level)', links: 'the latest change of any object of that name in the namespace', params: [] },
  { name: 'name-family', token: 'link=family', applies: 'a component\'s request on a child named after its parent (ReplicaSet after Deployment, Pod after ReplicaSet / StatefulSet / Job, EndpointSlice after Service, legacy token Secret after ServiceAccount)', links: 'the parent\'s change, while it is recent', params: ['familyMs'] },
  { name: 'generated-child', token: 'link=generated', applies: 'a component\'s create without a name (generateName at Metadata level)', links: 'the latest change of a kind whose controller creates this kind, in the namespace', params: ['spawnBurstMs'] },
  { name: 'account-token', token: 'link=account', applies: 'a kubelet\'s serviceaccounts/token request for an account other than "default"', links: 'the account\'s creation, while recent (a chart\'s new account → its pods start)', params: ['familyMs'] },
  { name: 'service', token: 'link=service', applies: 'Endpoints and EndpointSlices (name or kubernetes.io/service-name label)', links: 'the Service', params: [] },
  { name: 'bound-token', token: 'link=bound', applies: 'TokenRequest bodies with a boundObjectRef', links: 'the pod the token is bound to', params: [] },
  { name: 'claim', token: 'link=claim', applies: 'PersistentVolume bodies with a claimRef', links: 'the claim', params: [] },
  { name: 'namespace-lifecycle', token: 'link=namespace', applies: 'a component\'s work in a namespace just created or being deleted', links: 'the namespace\'s create / delete', params: ['spawnBurstMs', 'originHorizonMs'] },
  { name: 'spawn-burst', token: 'spawn=first|burst|stale|later', applies: 'a component creating a child of an owner', links: 'the owner\'s action within the burst; routine after a stale owner or a CronJob\'s later runs', params: ['spawnBurstMs', 'staleOwnerMs'] },
  { name: 'follow-up', token: 'via=previous', applies: 'a component\'s unlinked request right after its previous one', links: 'the previous request\'s action', params: ['followUpMs'] },
  { name: 'node-binding', token: 'via=binding', applies: 'a kubelet\'s unlinked request (token, mounts) after the scheduler bound a pod to its node (binding body logged)', links: 'the oldest pod bound there in the namespace not started yet', params: ['bindFollowMs'] },
  { name: 'namespace-binding', token: 'via=nsbinding', applies: 'the same at Metadata level, where the binding\'s node is not logged', links: 'the oldest pod bound in the namespace not started yet', params: ['bindFollowMs'] },
  { name: 'namespace-follower', token: 'via=namespace', applies: 'Endpoints, EndpointSlices, quota and workload status without a fresh link', links: 'the namespace\'s latest attributed event', params: ['followNsMs'] },
  { name: 'cluster-follower', token: 'via=cluster', applies: 'a component\'s unlinked cluster-scoped change right after a person\'s cluster-scoped change (ClusterRole aggregation)', links: 'that change', params: ['followNsMs'] },
  { name: 'release-session', token: 'via=release-history|release-record|release-namespace|release-name|release-burst', applies: 'a person\'s (non-kubectl) request while a helm release session of theirs is live: the history check starts it, the release record and the release\'s namespace or name keep it, an untied request joins only inside the burst', links: 'the release, labeled by its record change (certain: the model is bypassed)', params: ['releaseIdleMs', 'releaseStepMs'] },
  { name: 'release-name', token: 'via=release', applies: 'a control-plane component\'s unlinked request on an object named after a live release (any namespace, cluster scope)', links: 'the release', params: ['originHorizonMs'] },
  { name: 'release-home', token: 'clusterer', applies: 'a helm release\'s requests in namespaces other than its own', links: 'makes the release the namespace\'s latest action (namespace-person) only through a workload change there (its pods carry no link at Metadata level), not through RBAC objects, ConfigMaps, Secrets or Services', params: [] },
  { name: 'namespace-person', token: 'via=nsperson', applies: 'a control-plane component\'s unlinked request in a namespace (not a kubelet\'s, not a token, not a shared object)', links: 'the latest action of a person in that namespace, while recent', params: ['originHorizonMs'] },
  { name: 'person-session', token: 'sess=same|other', applies: 'a person\'s requests closer than the session gap (kubectl: one change per command, apply reads each object first)', links: 'the session\'s first change', params: ['sessionGapMs', 'kubectlStepMs'] },
  { name: 'reaction', token: 'react=yes', applies: 'a workload service account acting on what someone else just changed (an operator, a provisioner), unless the action created the account itself', links: 'that change\'s action', params: ['reactSelfMs', 'reactionMs', 'originHorizonMs'] },
  { name: 'release-takeover', token: 'clusterer', applies: 'the next helm command on a release (upgrade, rollback, uninstall) starts its session and changes something; helm history / status only read, helm list belongs to no release', links: 'closes the release\'s previous context at that first change: the controllers now work for the new revision; until then the release\'s cascade stays with the previous change', params: [] },
  { name: 'command-follow-up', token: 'clusterer', applies: 'a person\'s request on the object their previous request named (by name or fieldSelector=metadata.name), within the session gap: kubectl reads then patches, reads or deletes then watches (rollout status, wait, delete --wait)', links: 'the previous request\'s context, whatever the labels', params: ['sessionGapMs'] },
  { name: 'command-session', token: 'clusterer', applies: 'a person\'s request from the same kubectl (user agent) sent within commandStepMs after their previous request returned (not before it returned, in the same namespace or cluster scope; kubectl sends a command\'s requests back to back: delete a b, delete -f <dir>, expose, diff, delete namespace then its watch; the next command is a new process); not helm, GitOps controllers or other long-running clients', links: 'the previous request\'s context, whatever the labels; a kubectl request (or helm list) outside it is the person\'s next command and joins none of their earlier contexts, unless it retries a failed request', params: ['commandStepMs'] },
  { name: 'namespace-link', token: 'clusterer', applies: 'an event inside a namespace a person created or deleted (the n:<ns> key): the control plane\'s default account, CA bundle or token Secret in a namespace created within the spawn burst; anything in a namespace being deleted, within the origin horizon', links: 'the namespace\'s create or delete; otherwise the namespace key links nothing (the next command\'s work in a new namespace, a relabel)', params: ['spawnBurstMs', 'originHorizonMs'] },
  { name: 'reads-cause-nothing', token: 'clusterer', applies: 'a context that holds only a person\'s reads; a person\'s read of an object they changed more than the session gap earlier (their next command)', links: 'nothing: control-plane events and the namespace\'s unlinked work never follow it', params: ['sessionGapMs'] },
  { name: 'retry', token: 'clusterer', applies: 'a person\'s same request (verb and URI) on the same named object, after that request failed, within the clusterer\'s triggerBurstMs (2 s; client-go retries within a second or two); after a success the same request is the next command', links: 'the first request\'s context; another request on that object is the next command', params: [] },
  { name: 'manifest-apply', token: 'clusterer', applies: 'a person\'s write whose field manager applies a set of manifests (kubectl apply -f <dir> / -k, kustomize-controller, argocd-controller), then their reads by name, writes, selector lists and deletes, each within the clusterer\'s applyStepMs (250 ms) of the previous one, in its namespace or cluster scope', links: 'one context, found under each object\'s label', params: [] },
  { name: 'relabel', token: 'clusterer', applies: 'a person\'s write from kubectl label (fieldManager=kubectl-label)', links: 'its own context, without superseding the context on the same object (no controller acts on labels); unless it relabels a pod, the namespace\'s unlinked control-plane work goes on following the previous action', params: [] },
  { name: 'origin-horizon', token: 'stale=yes', applies: 'any inherited attribution', links: 'nothing once the action is older than the horizon', params: ['originHorizonMs'] },
];

/**
 * Every threshold of attribution (labeler tracer and clusterer), in one object. It is saved
 * with the labeling model and its hash is part of the feature version, so a model is never
 * used with thresholds it was not trained with. Each value is justified by how Kubernetes
 * components and clients behave, not by the simulator.
 */
import { createHash } from 'node:crypto';

export const ATTRIBUTION = {
  /**
   * A person's requests closer than this belong to one action. Clients send one command's
   * requests back to back (client-go's default rate limit is 5 QPS with a burst of 10, so a
   * burst goes out within milliseconds); people do not type two commands within 100 ms.
   */
  sessionGapMs: 100,
  /** kubectl apply reads each object of its manifest right before changing it (one round trip, well under 30 ms on a LAN) */
  kubectlStepMs: 30,
  /**
   * A helm release stays one action while helm waits: `--wait` and hooks poll every 2 s until
   * `--timeout` (default 5 min), then helm marks the release record deployed or failed.
   */
  releaseIdleMs: 300_000,
  /**
   * A request of the person running helm that names neither the release's namespace nor an
   * object named after the release (a CRD, a namespace) joins their latest release only this
   * soon after their previous request: helm renders first and then sends the manifest in one
   * burst, so its untied requests sit inside that burst.
   */
  releaseStepMs: 1_000,
  /**
   * Control-plane work caused by an action ends within this long after the action's last
   * request: rollouts, image pulls, readiness probes and the endpoint updates that follow them
   * take seconds to a couple of minutes; later writes are routine reconciliation.
   */
  originHorizonMs: 120_000,
  /** a controller creates all children of one owner change within this long (a Deployment's ReplicaSet, a Job's pods: one sync loop, retried with backoff) */
  spawnBurstMs: 10_000,
  /** a component creating a child of an object nobody changed for this long is doing routine work (resyncs run every 30 s to 10 min) */
  staleOwnerMs: 60_000,
  /** a component's unlinked request this soon after its previous one continues the same work item (one reconcile runs its API calls back to back) */
  followUpMs: 50,
  /** Endpoints, EndpointSlices and quota usage follow a pod change in their namespace within this long (their controllers batch updates for up to 1 s) */
  followNsMs: 1_000,
  /** a kubelet starts a pod this soon after the scheduler binds it (its pod watch delivers the binding in well under a second; the token request comes first) */
  bindFollowMs: 5_000,
  /** an operator updates a custom resource a person just created within this long (its informer delivers the add at once) */
  reactSelfMs: 2_000,
  /** a workload service account acting on what another party changed this recently is reacting, not acting */
  reactionMs: 30_000,
  /** a child's name family links it to its parent only while the parent changed this recently (a controller's sync follows its parent's change within one work-queue round) */
  familyMs: 30_000,
} as const;

/**
 * Thresholds of the clusterer's command sessions. The labeler does not use them (they are no
 * model input), so they are not part of the feature version.
 */
export const COMMAND_SESSION = {
  /**
   * A person's kubectl request sent at most this long after their previous request returned
   * continues the same command (rule "command-session"). kubectl sends a command's requests one
   * after another; between two it only decodes a response and builds the next request, and
   * client-go's default rate limit (5 QPS after a burst of 10) spaces a long run of them
   * 200 ms apart (`apply --prune` listing each kind, `diff` of a directory). The next command
   * is a new process that first loads its binary, kubeconfig and discovery cache.
   */
  commandStepMs: 250,
} as const;

export type AttributionParams = { readonly [K in keyof typeof ATTRIBUTION]: number };

/** Short hash of the parameters (part of the labeler's feature version). */
export function paramsHash(p: AttributionParams = ATTRIBUTION): string {
  const canon = JSON.stringify(Object.keys(p).sort().map((k) => [k, (p as Record<string, number>)[k]]));
  return createHash('sha256').update(canon).digest('hex').slice(0, 12);
}

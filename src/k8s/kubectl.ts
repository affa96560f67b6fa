/**
 * What kubectl's own requests say about the command that sent them, at every audit level:
 * kubectl names its writes' field manager after the command (`fieldManager=kubectl-label`,
 * `kubectl-annotate`, `kubectl-set`, `kubectl-rollout`, `kubectl-create`, ...; client-side
 * `apply` and `apply -k` write as `kubectl-client-side-apply`, server-side apply as `kubectl`).
 */
import type { AuditEvent } from '../types/audit.ts';
import { queryParam } from './uri.ts';
import { clientFamily } from './identity.ts';

/**
 * Whether a user agent is a client that runs one process per command (kubectl and its
 * plugins): its requests follow each other back to back until the command ends, and the next
 * command is a new process. Helm, GitOps controllers and other long-running clients are not.
 */
export function isCommandClient(userAgent: string | undefined): boolean {
  return clientFamily(userAgent) === 'kubectl';
}

/** kubectl commands whose writes change only labels or annotations: no controller acts on them, the workload's rollout goes on as before. */
export const METADATA_ONLY_COMMANDS: ReadonlySet<string> = new Set(['label']);

/** The kubectl command a write came from, by its field manager ("apply" for client- and server-side apply); undefined for other clients and reads. */
export function kubectlCommandOf(a: AuditEvent): string | undefined {
  const fm = queryParam(a.requestURI, 'fieldManager');
  if (fm === undefined) return undefined;
  if (fm === 'kubectl-client-side-apply' || (fm === 'kubectl' && a.verb === 'patch')) return 'apply';
  return fm.startsWith('kubectl-') ? fm.slice('kubectl-'.length) : undefined;
}

/**
 * Field managers of clients that apply a set of manifests in one go: `kubectl apply -f <dir>`
 * and `kubectl apply -k` (client- or server-side), and GitOps controllers syncing a repository.
 * Each object of the set is read, then created or patched; `--prune` then lists and deletes
 * what the set no longer holds. All of it is one action.
 */
export const APPLY_FIELD_MANAGERS: ReadonlySet<string> = new Set(['kubectl-client-side-apply', 'kustomize-controller', 'argocd-controller']);

/** Whether a write is part of applying a set of manifests (see APPLY_FIELD_MANAGERS). */
export function isManifestApply(a: AuditEvent): boolean {
  const fm = queryParam(a.requestURI, 'fieldManager');
  return fm !== undefined && (APPLY_FIELD_MANAGERS.has(fm) || (fm === 'kubectl' && a.verb === 'patch'));
}

/** Whether a write only relabels or re-annotates its object (`kubectl label`, `kubectl annotate`). */
export function changesOnlyMetadata(a: AuditEvent): boolean {
  const cmd = kubectlCommandOf(a);
  return cmd !== undefined && METADATA_ONLY_COMMANDS.has(cmd);
}

/**
 * Whether a write gives the controllers no new work: `kubectl label` of anything but a pod
 * (workload controllers act on their spec; a Deployment's or namespace's labels are copied
 * nowhere), while a pod's labels decide which ReplicaSet and Service select it.
 */
export function causesNoControllerWork(a: AuditEvent): boolean {
  return changesOnlyMetadata(a) && a.objectRef?.resource !== 'pods';
}

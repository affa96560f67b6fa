import type { Actor } from '../identity.ts';
import type { Act, Sim } from '../sim.ts';

export interface Scenario {
  name: string;
  summary: string;
  /** label key of the trigger request (the label every event of the cascade carries) */
  trigger: string;
  /** default weight in the mix */
  weight: number;
  /** needs cluster-admin rights: mostly picked by admins; a developer gets 403 */
  admin?: boolean;
  /** scenario to run instead when this one has nothing to act on yet */
  fallback?: string;
  /** the opposite scenario, run instead when the cluster is full (keeps long runs bounded) */
  shrink?: string;
  /** emits the action (queues its records); undefined when there is nothing to act on */
  run(sim: Sim, user: Actor, t0: number): Act | undefined;
}

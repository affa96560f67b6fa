/** The scenario registry: every user action the simulator can play, with its default weight. */
import { DEPLOYMENT_SCENARIOS } from './deployments.ts';
import { NAMESPACE_SCENARIOS } from './namespaces.ts';
import { POD_SCENARIOS } from './pods.ts';
import { SERVICE_SCENARIOS } from './services.ts';
import type { Scenario } from './types.ts';

export const ALL_SCENARIOS: readonly Scenario[] = [
  ...NAMESPACE_SCENARIOS,
  ...POD_SCENARIOS,
  ...DEPLOYMENT_SCENARIOS,
  ...SERVICE_SCENARIOS,
];

const BY_NAME = new Map(ALL_SCENARIOS.map((s) => [s.name, s]));
export function scenarioByName(name: string): Scenario | undefined { return BY_NAME.get(name); }
export type { Scenario };

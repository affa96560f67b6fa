/** The scenario registry: every user action the simulator can play, with its default weight. */
import { BATCH_SCENARIOS } from './batch.ts';
import { CONFIG_SCENARIOS } from './config.ts';
import { CRD_SCENARIOS } from './crd.ts';
import { CSR_SCENARIOS } from './csr.ts';
import { DEPLOYMENT_SCENARIOS } from './deployments.ts';
import { FAILURE_SCENARIOS } from './failures.ts';
import { HELM_SCENARIOS } from './helm.ts';
import { NAMESPACE_SCENARIOS } from './namespaces.ts';
import { POD_SCENARIOS } from './pods.ts';
import { RBAC_SCENARIOS } from './rbac.ts';
import { SERVICE_SCENARIOS } from './services.ts';
import { STATEFUL_SCENARIOS } from './stateful.ts';
import type { Scenario } from './types.ts';

export const ALL_SCENARIOS: readonly Scenario[] = [
  ...NAMESPACE_SCENARIOS,
  ...POD_SCENARIOS,
  ...DEPLOYMENT_SCENARIOS,
  ...STATEFUL_SCENARIOS,
  ...BATCH_SCENARIOS,
  ...SERVICE_SCENARIOS,
  ...CONFIG_SCENARIOS,
  ...RBAC_SCENARIOS,
  ...CSR_SCENARIOS,
  ...HELM_SCENARIOS,
  ...CRD_SCENARIOS,
  ...FAILURE_SCENARIOS,
];

const BY_NAME = new Map(ALL_SCENARIOS.map((s) => [s.name, s]));
if (BY_NAME.size !== ALL_SCENARIOS.length) throw new Error('simulator: duplicate scenario names');
export function scenarioByName(name: string): Scenario | undefined { return BY_NAME.get(name); }
export type { Scenario };

/** Alert outputs. */
import type { Client } from '@elastic/elasticsearch';
import type { Config } from '../config/config.ts';
import type { DetectionEngine } from '../detect/index.ts';
import type { ContextDoc, DetectionSeverity } from '../types/context.ts';
import { WebhookAlerter } from './webhook.ts';

export { WebhookAlerter, FALCO_PRIORITY, type AlertOptions, type AlertPayload } from './webhook.ts';

/**
 * The alert webhook of the configuration (--alert-webhook-url), subscribed to closed, stored
 * contexts; undefined when no URL is configured. Close it after the pipeline stopped.
 */
export function alertsFromConfig(
  cfg: Pick<Config, 'alertWebhookUrl' | 'alertMinSeverity' | 'indexPrefix'>, client: Client, detections: DetectionEngine,
  subscribeClosed: (cb: (ctx: ContextDoc) => void) => () => void,
): WebhookAlerter | undefined {
  if (!cfg.alertWebhookUrl) return undefined;
  const byName = new Map(detections.rules.detections.map((d) => [d.name, d]));
  const alerts = new WebhookAlerter({
    url: cfg.alertWebhookUrl, client, indexPrefix: cfg.indexPrefix,
    minSeverity: cfg.alertMinSeverity as DetectionSeverity, describe: (n) => byName.get(n),
  });
  subscribeClosed((ctx) => alerts.push(ctx));
  return alerts;
}

/**
 * Ingest sources: forward protocol (Fluent Bit / Fluentd), the apiserver audit webhook, and
 * file replay. Each pushes raw records into a Downstream with a receipt per unit and confirms
 * the unit upstream only once the pipeline settled every record of it.
 */
export { ForwardServer, forwardOptionsFromConfig, type ForwardServerOptions, type ForwardTlsOptions } from './forward/index.ts';
export { createWebhookRouter, type WebhookOptions } from './webhook/index.ts';
export { replayFile, type ReplayOptions, type ReplayResult, type SettleSummary, type BadLine } from './file/index.ts';
export { UnitReceipt } from './receipt.ts';

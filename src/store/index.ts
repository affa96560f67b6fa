/** Elasticsearch storage of contexts: templates, the context writer, the document codec. */
export { ensureIndexTemplates, loadTemplates, SCHEMA_DIR } from './templates.ts';
export type { TemplateOptions } from './templates.ts';
export { createContextWriter, rawDay } from './writer.ts';
export type { ContextWriter, ContextWriterOptions } from './writer.ts';
export { toEsDoc, fromEsDoc, indexNames } from './codec.ts';
export type { EsContextSource } from './codec.ts';
export { createEsClient, waitForEs } from './es-client.ts';

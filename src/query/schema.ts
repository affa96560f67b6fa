/** schema/kontext.graphql is the contract; it is read at run time, never copied into code. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SCHEMA_PATH = fileURLToPath(new URL('../../schema/kontext.graphql', import.meta.url));

let cached: string | undefined;
export function loadTypeDefs(): string {
  cached ??= readFileSync(SCHEMA_PATH, 'utf8');
  return cached;
}

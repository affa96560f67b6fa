// Regenerates the table of shipped detections in README.md from schema/detections/kontext.yaml.
//   node --import tsx scripts/readme-detections.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { detectionsMarkdown } from '../src/detect/docs.ts';

export function withDetectionsTable(readme: string): string {
  return readme.replace(/<!-- DETECTIONS:START -->[\s\S]*<!-- DETECTIONS:END -->/, `<!-- DETECTIONS:START -->\n${detectionsMarkdown()}\n<!-- DETECTIONS:END -->`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync('README.md', withDetectionsTable(readFileSync('README.md', 'utf8')));
}

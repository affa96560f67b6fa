// Regenerates the configuration table in README.md from src/config/config.ts OPTIONS.
//   node --import tsx scripts/readme-options.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { optionsMarkdown } from '../src/config/config.ts';

export function withOptionsTable(readme: string): string {
  return readme.replace(/<!-- OPTIONS:START -->[\s\S]*<!-- OPTIONS:END -->/, `<!-- OPTIONS:START -->\n${optionsMarkdown()}\n<!-- OPTIONS:END -->`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync('README.md', withOptionsTable(readFileSync('README.md', 'utf8')));
}

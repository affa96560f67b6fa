/** The README's table of shipped detections, generated from the shipped rules file. */
import { createDetectionEngine } from './index.ts';
import { CORRELATIONS } from './correlate.ts';

export function detectionsMarkdown(): string {
  const engine = createDetectionEngine();
  const rows = engine.rules.detections.filter((d) => !d.tags.includes('activity')).map((d) => {
    const kind = d.kind === 'correlation' ? `stateful (\`${d.correlation}\`)` : d.kind === 'context' ? 'context' : 'event';
    const falco = d.falco ? `Falco: ${d.falco}` : 'kontext';
    const desc = (d.desc || (d.correlation ? CORRELATIONS[d.correlation].summary : '')).replace(/\s+/g, ' ').replace(/\|/g, '\\|');
    return `| \`${d.name}\`${d.enabled ? '' : ' (disabled)'} | ${d.severity} | ${kind} | ${falco} | ${d.needsBodies ? 'yes' : ''} | ${desc} |`;
  });
  return ['| detection | severity | over | origin | bodies | what |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

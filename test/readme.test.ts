import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { withOptionsTable } from '../scripts/readme-options.ts';

test('README configuration table matches the options (regenerate: node --import tsx scripts/readme-options.ts)', () => {
  const readme = readFileSync('README.md', 'utf8');
  assert.equal(withOptionsTable(readme), readme);
});

test('README names the two commands, and .ci/run runs the test command', () => {
  const readme = readFileSync('README.md', 'utf8');
  assert.match(readme, /```sh\nnpm start\n```/);
  assert.match(readme, /```sh\nnpm test\n```/);
  const ci = readFileSync('.ci/run', 'utf8');
  assert.match(ci, /^npm test$/m);
});

test('the README\'s first GraphQL query asks for a user the demo traffic (serve --simulate) has', async () => {
  const { simulate } = await import('../src/simulate/index.ts');
  const readme = readFileSync('README.md', 'utf8');
  const m = /triggeredBy: \["([^"]+)"\]/.exec(readme);
  assert.ok(m, 'README has a triggeredBy query');
  const users = new Set<string>();
  for (const ev of simulate({ seed: 1, start: Date.parse('2026-01-01T00:00:00Z'), durationMs: 30 * 60_000 })) users.add(ev.user.username);
  assert.ok(users.has(m[1]!), `${m[1]} not among ${[...users].join(', ')}`);
});

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

import type { Command } from '../command.ts';

// Placeholder: replaced by the real implementation of `kontext train`.
export const command: Command = {
  name: 'train',
  summary: 'not implemented yet',
  usage: '[options]',
  flags: [],
  usesConfig: false,
  async run() {
    process.stderr.write('kontext train: not implemented yet\n');
    return 1;
  },
};

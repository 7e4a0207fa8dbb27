import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LIFELINE_NODE_FLAGS } from '../node-flags.ts';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  scripts: Record<string, string>;
  config: { nodeFlags: string };
};

describe('node flags', () => {
  it('npm start runs Lifeline with the node flags the benchmarks and fault replicas start it with', () => {
    expect(packageJson.scripts.start).toBe('node $npm_package_config_nodeFlags --import tsx main.ts');
    expect(LIFELINE_NODE_FLAGS).toEqual(packageJson.config.nodeFlags.split(' '));
    expect(LIFELINE_NODE_FLAGS).toContain('--max-semi-space-size=32');
  });
});

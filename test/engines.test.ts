import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// semver is npm's own version logic, already installed with the tools; its ranges are the ones npm checks engines with.
const semver = createRequire(import.meta.url)('semver') as {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
};

interface LockedPackage {
  version?: string;
  engines?: { node?: string } | string[];
}

describe('the Node versions Lifeline says it runs on', () => {
  it('every installed package admits the oldest Node that package.json allows, so `npm ci` prints no EBADENGINE', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
    const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8')) as { packages: Record<string, LockedPackage> };
    const oldest = semver.minVersion(manifest.engines.node)?.version;
    expect(oldest, `package.json engines.node "${manifest.engines.node}"`).toMatch(/^\d+\.\d+\.\d+$/);

    const refusing = Object.entries(lock.packages).flatMap(([path, locked]) => {
      const range = locked.engines && !Array.isArray(locked.engines) ? locked.engines.node : undefined;
      if (path === '' || range === undefined || semver.satisfies(oldest ?? '', range)) return [];
      return [`${path.replace(/^.*node_modules\//, '')}@${locked.version ?? '?'} needs Node ${range}`];
    });
    // A package here needs a newer Node than Lifeline promises: pin an older version with `overrides` in
    // package.json, or raise engines.node (and the README) honestly.
    expect(refusing).toEqual([]);
  });
});

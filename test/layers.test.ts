import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The direction of dependency is bot, api, jobs → domain → db; config is read by everyone and reads nothing of
// ours. An import that runs the other way is how a rule starts to live in two places, so the tree is checked.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const skipped = new Set(['node_modules', '.git', '.data', '.ci-out']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (skipped.has(entry.name)) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

interface Import {
  /** Repository-relative path of the importing file. */
  file: string;
  /** What it imports: a repository-relative path for our own modules, the bare name for a package. */
  target: string;
}

// Static imports and re-exports (`… from '…'`), side-effect imports and dynamic `import('…')`.
const importPattern = /\bfrom\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/gm;

function importsOf(path: string): Import[] {
  const file = relative(root, path);
  return [...readFileSync(path, 'utf8').matchAll(importPattern)].map((match) => {
    const specifier = match[1] ?? match[2] ?? match[3] ?? '';
    return { file, target: specifier.startsWith('.') ? relative(root, resolve(dirname(path), specifier)) : specifier };
  });
}

const imports = sourceFiles(root).flatMap(importsOf);
const under = (path: string, ...folders: string[]) => folders.some((folder) => path.startsWith(`${folder}/`));
const described = (found: Import[]) => found.map((edge) => `${edge.file} → ${edge.target}`);

describe('layers', () => {
  it('reads the imports of the whole tree', () => {
    // A pattern that matched nothing would pass every rule below.
    expect(imports.filter((edge) => under(edge.file, 'domain')).length).toBeGreaterThan(100);
    expect(imports.some((edge) => edge.file === 'main.ts' && edge.target === 'server.ts')).toBe(true);
  });

  it('db/ and config.ts import nothing from domain/, jobs/, api/ or bot/', () => {
    const upward = imports.filter((edge) => (under(edge.file, 'db') || edge.file === 'config.ts') && under(edge.target, 'domain', 'jobs', 'api', 'bot'));
    expect(described(upward)).toEqual([]);
  });

  it('domain/ imports neither the surfaces (api/, bot/, jobs/) nor GraphQL, Slack or HTTP modules', () => {
    const transport = /^(graphql|graphql-yoga|@graphql-|@envelop\/|@pothos\/|@slack\/|node:https?$|https?$|undici$)/;
    const outward = imports.filter(
      (edge) => under(edge.file, 'domain') && (under(edge.target, 'api', 'bot', 'jobs') || transport.test(edge.target)),
    );
    expect(described(outward)).toEqual([]);
  });

  it('a listener imports no other listener: what listeners share lives in bot/', () => {
    // Each kind's index.ts registers the listeners of its own folder; that is the one import allowed.
    const between = imports.filter(
      (edge) =>
        under(edge.file, 'bot/listeners') &&
        under(edge.target, 'bot/listeners') &&
        !(edge.file.endsWith('/index.ts') && dirname(edge.file) === dirname(edge.target)),
    );
    const found = described(between);
    expect(found).toEqual([]);
  });

  it('every file of a feature folder in domain/ opens with a comment saying what it owns', () => {
    const folders = readdirSync(join(root, 'domain'), { withFileTypes: true }).filter((entry) => entry.isDirectory());
    const files = folders.flatMap((folder) => sourceFiles(join(root, 'domain', folder.name)));
    expect(files.length).toBeGreaterThan(10);
    const silent = files.filter((path) => !/^\s*(\/\*\*|\/\/)/.test(readFileSync(path, 'utf8'))).map((path) => relative(root, path));
    expect(silent).toEqual([]);
  });
});

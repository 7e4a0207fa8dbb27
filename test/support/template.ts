import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the migrated PGlite template of this run lives between the global setup and the test files. */
export function pgliteTemplateFile(): string {
  return join(fileURLToPath(new URL('../../.data/test', import.meta.url)), `pglite-template-${process.pid}.tar`);
}

/**
 * The migrated PostgreSQL database every test file copies with CREATE DATABASE … TEMPLATE. Named per run, so
 * two runs against one server (two developers, or CI beside a local run) never drop each other's template.
 */
export function postgresTemplateName(): string {
  return `lifeline_test_template_${process.pid}_${Date.now().toString(36)}`;
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgresTemplate: string;
    pgliteTemplate: string;
  }
}

export function databaseUrlWithName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

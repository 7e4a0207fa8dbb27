/**
 * What Lifeline says when it cannot start because of its surroundings (the database, a port), instead of a stack
 * trace: what went wrong, in the operator's terms, and what to do about it.
 */

/** A connection URL with its password replaced, safe to print. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unreadable DATABASE_URL)';
  }
}

function codesOf(error: unknown): string[] {
  if (typeof error !== 'object' || error === null) return [];
  const own = 'code' in error && typeof error.code === 'string' ? [error.code] : [];
  // Node reports a refused connection to a name with several addresses as an AggregateError of each attempt.
  const nested = error instanceof AggregateError ? error.errors.flatMap(codesOf) : [];
  const cause = 'cause' in error ? codesOf(error.cause) : [];
  return [...own, ...nested, ...cause];
}

function databaseName(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.slice(1)) || '(the user’s default)';
  } catch {
    return '(unknown)';
  }
}

function userName(url: string): string {
  try {
    return decodeURIComponent(new URL(url).username) || '(the default user)';
  } catch {
    return '(unknown)';
  }
}

/** The message for a database Lifeline cannot open or migrate; undefined when the error is not one of these. */
export function explainDatabaseFailure(error: unknown, database: { kind: 'postgres'; url: string } | { kind: 'pglite'; dir: string }): string | undefined {
  const codes = codesOf(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (database.kind === 'pglite') {
    if (codes.some((code) => code === 'EACCES' || code === 'EPERM' || code === 'EROFS')) {
      return `Lifeline cannot write its embedded database in ${database.dir} (${detail}).\nFix: make the folder writable by this user, or point PGLITE_DIR at a writable folder.`;
    }
    return undefined;
  }
  const where = redactedUrl(database.url);
  if (codes.includes('ECONNREFUSED')) {
    return `Lifeline cannot reach PostgreSQL at ${where}: the connection was refused (nothing is listening there).\nFix: start PostgreSQL, or correct the host and port in DATABASE_URL.`;
  }
  if (codes.includes('ENOTFOUND') || codes.includes('EAI_AGAIN')) {
    return `Lifeline cannot reach PostgreSQL at ${where}: the host name does not resolve.\nFix: correct the host in DATABASE_URL.`;
  }
  if (codes.includes('ETIMEDOUT') || codes.includes('CONNECT_TIMEOUT')) {
    return `Lifeline cannot reach PostgreSQL at ${where}: the connection timed out.\nFix: check that the server is up and that a firewall lets this machine reach its port.`;
  }
  if (codes.includes('3D000')) {
    const name = databaseName(database.url);
    return `PostgreSQL at ${where} has no database named "${name}".\nFix: create it (createdb ${name}, or CREATE DATABASE "${name}";), or correct the database name at the end of DATABASE_URL. Lifeline creates its tables itself.`;
  }
  if (codes.includes('28P01')) {
    return `PostgreSQL at ${where} rejected the password of user "${userName(database.url)}".\nFix: correct the password in DATABASE_URL (percent-encode special characters such as @ or /).`;
  }
  if (codes.includes('28000')) {
    return `PostgreSQL at ${where} refused user "${userName(database.url)}" (${detail}).\nFix: use a role that exists and may connect (CREATE ROLE … LOGIN), or allow this host in pg_hba.conf.`;
  }
  if (codes.includes('42501')) {
    return `User "${userName(database.url)}" may not create Lifeline's tables in ${where} (${detail}).\nFix: grant it CREATE on the database (or its schema), or use the database's owner.`;
  }
  return undefined;
}

/** The message for a port Lifeline cannot listen on; undefined when the error is not one of these. */
export function explainListenFailure(error: unknown, listen: { port: number; host: string | undefined; variable: 'PORT' | 'METRICS_PORT' }): string | undefined {
  const codes = codesOf(error);
  const where = `${listen.host ?? 'every interface'}:${listen.port}`;
  const other = listen.variable === 'PORT' ? 'PORT=3001' : 'METRICS_PORT=9465 (or METRICS_PORT=off)';
  if (codes.includes('EADDRINUSE')) {
    return `Port ${listen.port} is already in use (${where}), so Lifeline cannot listen there.\nFix: stop what uses it (lsof -i :${listen.port} shows it), or choose another port with ${other}.`;
  }
  if (codes.includes('EACCES')) {
    return `Lifeline may not listen on port ${listen.port} (${where}): ports below 1024 need extra privileges.\nFix: choose a port above 1023 with ${other}, and put a proxy in front if it must answer on ${listen.port}.`;
  }
  if (codes.includes('EADDRNOTAVAIL')) {
    return `This machine has no address ${listen.host ?? ''} to listen on (${where}).\nFix: correct ${listen.variable === 'PORT' ? 'HOST' : 'METRICS_HOST'}, or leave it unset.`;
  }
  return undefined;
}

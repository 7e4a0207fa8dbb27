import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL server of the fault suite's own, on its own port: scenarios stop and restart it without
 * touching the machine's shared server that other test runs use.
 */
export interface FaultCluster {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

// PostgreSQL refuses to run as root; CI and sessions run as root, so the cluster runs as the postgres user.
async function asPostgres(command: string, args: string[]): Promise<void> {
  const isRoot = process.getuid?.() === 0;
  if (isRoot) await run('runuser', ['-u', 'postgres', '--', command, ...args]);
  else await run(command, args);
}

/**
 * Ports for the clusters: below the kernel's ephemeral range (32768 and up here), from which every outgoing
 * connection of the suite takes its local port. A cluster there could find its port taken by a client socket,
 * at its first start or when a scenario restarts it.
 */
const PORTS = { from: 20_000, to: 32_000 };
const PORT_ATTEMPTS = 20;

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

export async function createFaultCluster(): Promise<FaultCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'lifeline-faults-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'log');
  if (process.getuid?.() === 0) await run('chown', ['postgres:postgres', dir]);
  await asPostgres(`${BIN}/initdb`, ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const startOn = (port: number) =>
    asPostgres(`${BIN}/pg_ctl`, [
      '-D',
      dataDir,
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      '-l',
      logFile,
      '-w',
      'start',
    ]);
  const stop = () => asPostgres(`${BIN}/pg_ctl`, ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
  // Another cluster of the suite (files run in parallel) may take the same port between the probe and the start:
  // then PostgreSQL says so in its log, and another port is tried.
  let port = 0;
  for (let attempt = 1; port === 0; attempt += 1) {
    if (attempt > PORT_ATTEMPTS) throw new Error(`No free port for the fault cluster after ${PORT_ATTEMPTS} tries in ${PORTS.from}-${PORTS.to}`);
    const candidate = PORTS.from + Math.floor(Math.random() * (PORTS.to - PORTS.from));
    if (!(await isFree(candidate))) continue;
    try {
      await startOn(candidate);
      port = candidate;
    } catch (error) {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      if (!log.includes('Address already in use')) throw error;
    }
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start: () => startOn(port),
    stop,
    async destroy() {
      await stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LIFELINE_NODE_FLAGS } from '../../../node-flags.ts';

const projectRoot = fileURLToPath(new URL('../../..', import.meta.url));

export interface Replica {
  url: string;
  process: ChildProcess;
  /**
   * The bot token this replica calls Slack with, its own: the fake Slack records each call's token, so a call
   * can be traced to the replica that made it.
   */
  botToken: string;
  /** True once the process has ended, by a kill or by itself. */
  exited(): boolean;
  /** Resolves when the process ends (at once if it already has), with how it ended. */
  whenExited(): Promise<string>;
  /** Everything the process printed, for diagnosing a failed scenario. */
  output(): string;
  /** SIGKILL: no shutdown hook runs, as in a crash or an OOM kill. */
  kill(): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
}

export interface ReplicaOptions {
  databaseUrl: string;
  slackApiUrl: string;
  signingSecret: string;
  env?: Record<string, string>;
}

let started = 0;

/** Starts `main.ts` as its own process, exactly as `npm start` would, and waits until it is ready. */
export async function startReplica(options: ReplicaOptions): Promise<Replica> {
  started += 1;
  const botToken = options.env?.SLACK_BOT_TOKEN ?? `xoxb-fault-suite-${process.pid}-${started}`;
  const child = spawn(process.execPath, [...LIFELINE_NODE_FLAGS, '--import', 'tsx', 'main.ts'], {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      // Replicas share the machine: each takes a free metrics port rather than all asking for 9464.
      METRICS_PORT: '0',
      DATABASE_URL: options.databaseUrl,
      SLACK_BOT_TOKEN: botToken,
      SLACK_SIGNING_SECRET: options.signingSecret,
      SLACK_API_URL: options.slackApiUrl,
      LOG_LEVEL: 'warn',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exited with code ${code}`)));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`replica did not start within 60 s:\n${output}`)), 60_000);
    const check = () => {
      const match = /Lifeline is running on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`replica exited with ${code} before starting:\n${output}`));
    });
  });

  return {
    url,
    process: child,
    botToken,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    whenExited: () => exited,
    output: () => output,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

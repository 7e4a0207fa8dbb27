import { ensureInstallDefaults } from '../../../domain/install-defaults.ts';
import { type Database, openDatabase } from '../../../db/client.ts';
import { type FakeSlack, startFakeSlack } from '../../support/fake-slack.ts';
import { type SlackRequestClient, createSlackClient } from '../../support/slack-requests.ts';
import { type FaultCluster, createFaultCluster } from './cluster.ts';
import { type Replica, startReplica } from './replica.ts';

export const FAULT_SIGNING_SECRET = 'fault-suite-signing-secret';

/** A whole deployment on one machine: its own PostgreSQL, a fake Slack, and Lifeline replicas. */
export interface FaultStack {
  cluster: FaultCluster;
  database: Database;
  fake: FakeSlack;
  replicas: Replica[];
  slackClients: SlackRequestClient[];
  addReplica(env?: Record<string, string>): Promise<Replica>;
  teardown(): Promise<void>;
}

export async function startFaultStack(options: { replicas: number; env?: Record<string, string> }): Promise<FaultStack> {
  const cluster = await createFaultCluster();
  const database = await openDatabase({ kind: 'postgres', url: cluster.url, max: 20 });
  await database.migrate();
  await ensureInstallDefaults(database.db);
  const fake = await startFakeSlack();
  const replicas: Replica[] = [];
  const slackClients: SlackRequestClient[] = [];
  const addReplica = async (env?: Record<string, string>) => {
    const replica = await startReplica({
      databaseUrl: cluster.url,
      slackApiUrl: fake.apiUrl,
      signingSecret: FAULT_SIGNING_SECRET,
      env: { ...options.env, ...env },
    });
    replicas.push(replica);
    slackClients.push(createSlackClient({ url: `${replica.url}/slack/events`, signingSecret: FAULT_SIGNING_SECRET }));
    return replica;
  };
  // Started one after another: each applies migrations under the advisory lock anyway.
  for (let index = 0; index < options.replicas; index += 1) await addReplica();
  return {
    cluster,
    database,
    fake,
    replicas,
    slackClients,
    addReplica,
    async teardown() {
      await Promise.all(replicas.map((replica) => replica.kill()));
      await database.close();
      await fake.close();
      await cluster.destroy();
    },
  };
}

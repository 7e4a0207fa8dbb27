import type { App, Receiver, ReceiverEvent } from '@slack/bolt';
import type { Logger } from '@slack/logger';
import { SocketModeClient } from '@slack/socket-mode';

export interface SocketReceiverOptions {
  /** The app-level token (xapp-…, scope connections:write) that opens the connection. */
  appToken: string;
  /** Web API base URL: apps.connections.open goes where every other call goes (Slack's, a proxy, a test server). */
  apiUrl: string;
  logger: Logger;
}

/**
 * Slack over Socket Mode: Lifeline opens a WebSocket to Slack (apps.connections.open) instead of serving
 * /slack/events, so it runs behind a firewall with no public URL. Bolt's own SocketModeReceiver builds its
 * SocketModeClient without client options, so apps.connections.open would always go to slack.com; this one hands
 * the client the configured Web API URL and otherwise does what Bolt's does: each envelope becomes a Bolt event
 * whose ack answers the envelope (`{ envelope_id, payload? }`) on the socket, within Slack's 3 seconds.
 * SECURITY: requests over the socket carry no signature; the socket itself, opened with the app token, is
 * Slack's proof.
 */
export class SocketReceiver implements Receiver {
  readonly client: SocketModeClient;
  private app: App | undefined;

  constructor(private readonly options: SocketReceiverOptions) {
    this.client = new SocketModeClient({
      appToken: options.appToken,
      logger: options.logger,
      clientOptions: { slackApiUrl: options.apiUrl },
    });
    this.client.on('slack_event', async (args: { ack: (response?: Record<string, unknown>) => Promise<void>; body: Record<string, unknown>; retry_num?: number; retry_reason?: string }) => {
      let acked = false;
      const event: ReceiverEvent = {
        body: args.body,
        ack: async (response) => {
          if (acked) return;
          acked = true;
          await args.ack(response === undefined || response === '' ? undefined : typeof response === 'string' ? { text: response } : (response as Record<string, unknown>));
        },
        ...(args.retry_num !== undefined ? { retryNum: args.retry_num } : {}),
        ...(args.retry_reason !== undefined ? { retryReason: args.retry_reason } : {}),
      };
      try {
        await this.app?.processEvent(event);
      } catch (error) {
        // Listener failures are answered by app.error; what reaches here failed before any listener (authorization).
        this.options.logger.error('Socket Mode event failed before any listener ran', error);
      }
    });
  }

  init(app: App): void {
    this.app = app;
  }

  /** Opens the connection; resolves once Slack said hello. */
  async start(): Promise<void> {
    await this.client.start();
  }

  async stop(): Promise<void> {
    await this.client.disconnect();
  }
}

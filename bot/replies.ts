import type { BlockAction } from '@slack/bolt';
import { ErrorCode, type WebClient } from '@slack/web-api';
import type { ModalView } from '@slack/types';
import type { SlackMessage } from './views/account-card.ts';
import { noticeMessage } from './views/account-card.ts';
import { field } from './payload.ts';

/**
 * Where a click came from decides how Lifeline can answer it (SLACK-NOTES.md, "Requests into the bot"):
 * - `message`: a message the bot posted; its `response_url` replaces it or answers beside it.
 * - `ephemeral`: a message only the clicker sees; its `response_url` is the only way to replace it.
 * - `modal` and `home`: a view. Slack sends no `response_url` (Bolt's `respond` is undefined), so answers go
 *   into a view (views.open/push/update) or, for a note to the person, a DM from the bot.
 * Listeners answer through `replyTo(body)` only, so none of them can assume a `response_url` exists.
 */
export type ActionSurface =
  | { kind: 'message'; channel: string; ts: string; responseUrl: string }
  | { kind: 'ephemeral'; channel: string | undefined; responseUrl: string }
  | { kind: 'modal'; viewId: string }
  | { kind: 'home'; viewId: string };

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Reads the surface from the payload as Slack sends it. Bolt's BlockAction type declares `response_url` on every
 * action, but view actions have none: it is read as data, never trusted to be there.
 */
export function surfaceOf(body: BlockAction): ActionSurface {
  const container: unknown = body.container;
  const responseUrl = text(field(body, 'response_url'));
  if (field(container, 'type') === 'view' || body.view !== undefined) {
    const viewId = text(field(container, 'view_id')) ?? body.view?.id ?? '';
    return body.view?.type === 'home' ? { kind: 'home', viewId } : { kind: 'modal', viewId };
  }
  const channel = text(field(body.channel, 'id')) ?? text(field(container, 'channel_id'));
  if (!responseUrl) {
    // Not a shape Slack sends for a message; treated like a view so the person still hears back by DM.
    return { kind: 'home', viewId: '' };
  }
  if (field(container, 'is_ephemeral') === true || !body.message || !channel) return { kind: 'ephemeral', channel, responseUrl };
  return { kind: 'message', channel, ts: body.message.ts, responseUrl };
}

/** Posts to a response_url the way Bolt's respond() does; Slack answers a plain-text error on failure. */
export async function postToResponseUrl(responseUrl: string, payload: Record<string, unknown>): Promise<void> {
  const response = await fetch(responseUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
  if (!response.ok) {
    const detail = await response.text().catch(() => '');
    throw new Error(`Slack refused the answer through response_url: HTTP ${response.status}${detail ? ` (${detail})` : ''}`);
  }
}

export interface Reply {
  readonly surface: ActionSurface;
  readonly userId: string;
  /**
   * A note only the clicker reads: an ephemeral message beside the one clicked, or, on a modal or the Home tab
   * (no response_url), a DM from the bot, which is where a Slack app can always reach a person.
   */
  tell(message: SlackMessage | string): Promise<void>;
  /** Replaces the message clicked (posted or ephemeral) through its response_url; false on a view, which has none. */
  replaceOriginal(message: SlackMessage): Promise<boolean>;
  /** Shows a message for the clicker only, beside the one clicked (or instead of it when `replace`). */
  showPrivately(message: SlackMessage, options: { replace: boolean }): Promise<void>;
  /**
   * Posts for everyone in the conversation of the click through the response_url (`in_channel`), which works
   * where the bot is not a member (DMs, group DMs, private channels); false on a view, which has no conversation.
   */
  postInChannel(message: SlackMessage): Promise<boolean>;
  /** Removes the ephemeral message clicked; nothing on other surfaces. */
  deleteOriginal(): Promise<void>;
}

/** The one place that decides how a click is answered on each surface. */
export function replyTo(body: BlockAction, client: WebClient): Reply {
  const surface = surfaceOf(body);
  const userId = body.user.id;
  const asMessage = (message: SlackMessage | string): SlackMessage => (typeof message === 'string' ? noticeMessage(message) : message);
  const directMessage = async (message: SlackMessage): Promise<void> => {
    // Posting to a member id lands in the bot's DM with them (its Messages tab), without conversations.open.
    await client.chat.postMessage({ channel: userId, text: message.text, blocks: message.blocks, unfurl_links: false });
  };
  return {
    surface,
    userId,
    async tell(message) {
      const shown = asMessage(message);
      if (surface.kind === 'message' || surface.kind === 'ephemeral') {
        await postToResponseUrl(surface.responseUrl, { response_type: 'ephemeral', replace_original: false, text: shown.text, blocks: shown.blocks });
      } else {
        await directMessage(shown);
      }
    },
    async replaceOriginal(message) {
      if (surface.kind !== 'message' && surface.kind !== 'ephemeral') return false;
      await postToResponseUrl(surface.responseUrl, { replace_original: true, text: message.text, blocks: message.blocks });
      return true;
    },
    async showPrivately(message, { replace }) {
      if (surface.kind === 'message' || surface.kind === 'ephemeral') {
        // Only an ephemeral message can be replaced by a private one; a posted message stays for the others.
        const replaceOriginal = replace && surface.kind === 'ephemeral';
        await postToResponseUrl(surface.responseUrl, { response_type: 'ephemeral', replace_original: replaceOriginal, text: message.text, blocks: message.blocks });
      } else {
        await directMessage(message);
      }
    },
    async postInChannel(message) {
      if (surface.kind !== 'message' && surface.kind !== 'ephemeral') return false;
      await postToResponseUrl(surface.responseUrl, { response_type: 'in_channel', replace_original: false, text: message.text, blocks: message.blocks });
      return true;
    },
    async deleteOriginal() {
      if (surface.kind === 'ephemeral') await postToResponseUrl(surface.responseUrl, { delete_original: true });
    },
  };
}

/** What the person is told when Slack would not open a form in time. */
export const SLACK_BUSY_MESSAGE = 'Slack is busy right now, so the form did not open and nothing changed. Try again in a few seconds.';

// A trigger id works once, for 3 seconds after the click: these answers mean it can no longer open anything.
const TRIGGER_GONE = new Set(['expired_trigger_id', 'exchanged_trigger_id', 'invalid_trigger_id']);

function triggerCannotBeUsed(error: unknown): boolean {
  const code = field(error, 'code');
  if (code === ErrorCode.RateLimitedError) return true;
  return code === ErrorCode.PlatformError && TRIGGER_GONE.has(String(field(field(error, 'data'), 'error')));
}

/**
 * Opens (or pushes, from inside a modal) a view with the click's trigger id. `client` must not retry: a retry
 * after Retry-After would reuse a trigger id that expired 3 seconds after the click, so the modal could never
 * open. When Slack refuses for that reason the person is told to try again, and false comes back.
 */
export async function openView(client: WebClient, reply: Reply, triggerId: string, view: ModalView): Promise<boolean> {
  try {
    if (reply.surface.kind === 'modal') await client.views.push({ trigger_id: triggerId, view });
    else await client.views.open({ trigger_id: triggerId, view });
    return true;
  } catch (error) {
    if (!triggerCannotBeUsed(error)) throw error;
    await reply.tell(SLACK_BUSY_MESSAGE);
    return false;
  }
}

import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import type { Actor } from '../domain/actors.ts';
import { listChurnReasons } from '../domain/churn-reasons.ts';
import { getRenewalDesk } from '../domain/renewals/queries.ts';
import type { BotDeps } from './deps.ts';
import { publishHome } from './home-tab.ts';
import type { SlackPerson } from './person.ts';
import { type ActionSurface, postToResponseUrl } from './replies.ts';
import { renewalMessage } from './views/renewals.ts';

/**
 * Where a renewal was shown when someone acted on it, so it can be redrawn: a posted message (chat.update by its
 * channel and ts), an ephemeral one (its response_url), or App Home (published again). The outcome form carries it
 * in its private metadata from the click to the submission.
 */
export const renewalWhereSchema = z.union([
  z.object({ kind: z.literal('message'), channel: z.string(), ts: z.string() }),
  z.object({ kind: z.literal('ephemeral'), responseUrl: z.url() }),
  z.object({ kind: z.literal('home') }),
]);
export type RenewalWhere = z.infer<typeof renewalWhereSchema>;

export const renewalOutcomeMetadataSchema = z.object({ renewalId: z.string(), where: renewalWhereSchema.optional() });
export type RenewalOutcomeMetadata = z.infer<typeof renewalOutcomeMetadataSchema>;

/** Where a click came from, as a renewal redraw needs it; undefined for a modal, which shows no renewal. */
export function renewalWhere(surface: ActionSurface): RenewalWhere | undefined {
  switch (surface.kind) {
    case 'message':
      return { kind: 'message', channel: surface.channel, ts: surface.ts };
    case 'ephemeral':
      return { kind: 'ephemeral', responseUrl: surface.responseUrl };
    case 'home':
      return { kind: 'home' };
    case 'modal':
      return undefined;
  }
}

/** The renewal message as it is now, read as `reader` sees it. */
export async function renderRenewal(deps: Pick<BotDeps, 'db' | 'clock'>, renewalId: string, reader: Actor) {
  const desk = await getRenewalDesk(deps.db, { renewalId, reader });
  const reasonKey = desk.outcome?.churnReasonKey;
  const churnReasonLabel = reasonKey
    ? ((await listChurnReasons(deps.db, { reader, includeRetired: true })).find((reason) => reason.key === reasonKey)?.label ?? reasonKey)
    : null;
  return renewalMessage({ ...desk, churnReasonLabel, now: deps.clock?.() ?? new Date() });
}

/**
 * Shows the renewal as it is now where it was shown: the posted message updated in place for everyone, the
 * ephemeral one replaced, App Home published again with `notice` on top. False when there was nothing to redraw.
 */
export async function redrawRenewal(
  deps: Pick<BotDeps, 'db' | 'clock' | 'renewalWindowDays'>,
  client: WebClient,
  where: RenewalWhere | undefined,
  renewalId: string,
  person: SlackPerson,
  notice: string,
): Promise<boolean> {
  if (!where) return false;
  if (where.kind === 'home') {
    if (!person.user.slackUserId) return false;
    await publishHome(deps, client, person.user.slackUserId, person, notice);
    return true;
  }
  const message = await renderRenewal(deps, renewalId, person.actor);
  if (where.kind === 'message') await client.chat.update({ channel: where.channel, ts: where.ts, text: message.text, blocks: message.blocks });
  else await postToResponseUrl(where.responseUrl, { replace_original: true, text: message.text, blocks: message.blocks });
  return true;
}

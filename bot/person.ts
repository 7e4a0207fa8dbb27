import type { AnyMiddlewareArgs, Context, Middleware } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Db } from '../db/client.ts';
import type { User } from '../db/schema.ts';
import { type Actor, actorFromUser } from '../domain/actors.ts';
import { SlackUserNotLinkedError } from '../domain/errors.ts';
import { linkPersonToSlack } from '../domain/people-links.ts';
import { requireUserBySlackId } from '../domain/users.ts';
import { field } from './payload.ts';

/** The Lifeline person behind a Slack request: their user, and the actor domain checks. */
export interface SlackPerson {
  user: User;
  actor: Actor;
}

/**
 * What the lookup found, kept in Bolt's context. A failure (not linked, the database unreachable) is kept too and
 * thrown where a listener asks for the person: after its ack, and inside a modal's error handling, so the person
 * gets the same answer as when each listener looked them up itself.
 */
class PersonLookup {
  constructor(
    readonly person: SlackPerson | undefined,
    readonly failure: unknown,
  ) {}
}

const PERSON_KEY = 'lifelinePerson';

/** Who sent the request: a click or a submission names `user`, a command `user_id`, an event its `event.user`. */
function slackUserIdOf(body: unknown): string | undefined {
  const candidates = [field(field(body, 'user'), 'id'), field(body, 'user_id'), field(field(body, 'event'), 'user')];
  return candidates.find((candidate): candidate is string => typeof candidate === 'string' && candidate !== '');
}

/** Resolves the Slack user to their Lifeline user and actor once per request; requests without a user pass through. */
export function resolveSlackPerson(db: Db): Middleware<AnyMiddlewareArgs> {
  return async ({ body, context, next }) => {
    const slackUserId = slackUserIdOf(body);
    if (slackUserId !== undefined) {
      try {
        const user = await requireUserBySlackId(db, slackUserId);
        context[PERSON_KEY] = new PersonLookup({ user, actor: actorFromUser(user) }, undefined);
      } catch (error) {
        context[PERSON_KEY] = new PersonLookup(undefined, error);
      }
    }
    await next();
  };
}

function lookupOf(context: Context): PersonLookup {
  const lookup: unknown = context[PERSON_KEY];
  if (!(lookup instanceof PersonLookup)) throw new Error('This Slack request names no user, or resolveSlackPerson is not installed');
  return lookup;
}

/** The linked person who sent the request; an unlinked one is refused with the answer that says how to link. */
export function slackPerson(context: Context): SlackPerson {
  const { person, failure } = lookupOf(context);
  if (person) return person;
  throw failure;
}

/** The linked person who sent the request, or undefined when their Slack user is not linked (App Home says so itself). */
export function linkedSlackPerson(context: Context): SlackPerson | undefined {
  const { person, failure } = lookupOf(context);
  if (person) return person;
  if (failure instanceof SlackUserNotLinkedError) return undefined;
  throw failure;
}

/**
 * The person who sent the request, linking an unlinked Slack user first by their Slack profile email (users.info)
 * when it is exactly one Lifeline person's. Otherwise throws the SlackLinkRefusedError that tells them why
 * (nobody has that email, several people do, the person is linked to another Slack user).
 */
export async function slackPersonLinkingByEmail(db: Db, client: WebClient, context: Context, slackUserId: string): Promise<SlackPerson> {
  const linked = linkedSlackPerson(context);
  if (linked) return linked;
  let email: string;
  try {
    const answer = await client.users.info({ user: slackUserId });
    email = answer.user?.profile?.email ?? '';
  } catch {
    // Slack could not say who they are (an outage, a workspace without the scope): they stay unlinked, and are told so.
    return slackPerson(context);
  }
  const { user } = await linkPersonToSlack(db, { email, slackUserId, source: 'slack_profile' });
  const person: SlackPerson = { user, actor: actorFromUser(user) };
  context[PERSON_KEY] = new PersonLookup(person, undefined);
  return person;
}

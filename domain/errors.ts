/**
 * Domain errors: each has a literal `code` that clients can branch on and a message a person can act on.
 * The API maps them to GraphQL errors with `extensions.code`; the bot turns them into ephemeral replies.
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  /** Which input field was wrong, when one was. */
  readonly field: string | undefined;

  constructor(message: string, field?: string) {
    super(message);
    this.name = new.target.name;
    this.field = field;
  }
}

export class NotFoundError extends DomainError {
  readonly code = 'NOT_FOUND';
}

export class ForbiddenError extends DomainError {
  readonly code = 'FORBIDDEN';
}

export class InvalidInputError extends DomainError {
  readonly code = 'BAD_USER_INPUT';
}

/** Someone else changed the record since the caller read it. */
export class StaleVersionError extends DomainError {
  readonly code = 'STALE_VERSION';

  constructor(
    message: string,
    readonly currentVersion: number,
  ) {
    super(message, 'expectedVersion');
  }
}

export class SlackUserNotLinkedError extends DomainError {
  readonly code = 'SLACK_USER_NOT_LINKED';
}

/** Why a person and a Slack member were not linked: each reason says what to do about it. */
export type SlackLinkRefusal = 'no_match' | 'ambiguous' | 'slack_id_taken' | 'person_linked_elsewhere' | 'no_email';

/**
 * Lifeline would not link a person to a Slack member: it would be a guess, or it would undo someone else's link.
 * A bad input to the API (BAD_USER_INPUT); `reason` says which refusal it is.
 */
export class SlackLinkRefusedError extends InvalidInputError {
  constructor(
    message: string,
    readonly reason: SlackLinkRefusal,
  ) {
    super(message, 'slackUserId');
  }
}

export class UnauthenticatedError extends DomainError {
  readonly code = 'UNAUTHENTICATED';
}

export type DomainErrorCode =
  | NotFoundError['code']
  | ForbiddenError['code']
  | InvalidInputError['code']
  | StaleVersionError['code']
  | SlackUserNotLinkedError['code']
  | UnauthenticatedError['code'];

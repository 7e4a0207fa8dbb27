import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Db } from '../../db/client.ts';
import { segments } from '../../db/schema.ts';
import type { Actor } from '../../domain/actors.ts';
import { DomainError, InvalidInputError } from '../../domain/errors.ts';
import { recordClosedWon } from '../../domain/handoffs/closed-won.ts';
import { findUserIdsByEmail } from '../../domain/users.ts';
import { fieldPath, findNulCharacter, nulCharacterMessage } from '../../domain/validation.ts';
import { BodyTooLargeError, readBoundedBody, refuseBodyTooLarge } from '../../request-body.ts';

export const CRM_WEBHOOK_PATH = '/webhooks/crm';
export const CRM_SIGNATURE_HEADER = 'x-lifeline-signature';
export const CRM_TIMESTAMP_HEADER = 'x-lifeline-timestamp';
/** Requests older (or further in the future) than this are refused, so a captured request cannot be replayed later. */
const MAX_SKEW_SECONDS = 300;
/** One deal per request: its longest fields are five context texts of at most 10,000 characters, far below this. */
export const CRM_WEBHOOK_BODY_LIMIT = 1_000_000;

export interface CrmWebhookOptions {
  db: Db;
  secret: string | undefined;
  logger: Logger;
  now?: () => Date;
  /** Days before contract end that a renewal window opens (config.jobs.renewalWindowDays); the domain default otherwise. */
  renewalWindowDays?: number;
}

/** `v1=` + hex HMAC-SHA256 of `<timestamp>.<raw body>` with the shared secret. The CRM side computes the same. */
export function signCrmWebhook(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

const text = z.string().trim().max(10_000).nullish();
const payloadSchema = z.object({
  opportunityId: z.string().min(1),
  closedWonAt: z.iso.datetime({ offset: true, error: 'use an ISO 8601 time such as 2026-11-25T09:30:00Z' }),
  account: z.object({
    externalId: z.string().min(1),
    name: z.string().min(1),
    domain: z.string().nullish(),
    segment: z.enum(segments, `use one of ${segments.join(', ')}`),
    arrCents: z.number(),
    contractStart: z.string().nullish(),
    contractEnd: z.string().nullish(),
  }),
  aeEmail: z.string().nullish(),
  csmEmail: z.string().nullish(),
  aeId: z.string().nullish(),
  csmId: z.string().nullish(),
  context: z.object({ goals: text, promises: text, stakeholders: text, risks: text, notes: text }).nullish(),
  goLiveTarget: z.string().nullish(),
});

const crmActor: Actor = { userId: null, role: 'integration', label: 'CRM webhook' };

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, code: string, message: string, field?: string): void {
  send(res, status, { error: { code, message, ...(field ? { field } : {}) } });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const statusOf: Record<string, number> = { BAD_USER_INPUT: 400, NOT_FOUND: 404, FORBIDDEN: 403, UNAUTHENTICATED: 401 };

/**
 * POST /webhooks/crm: a closed-won deal from the CRM, with the same semantics as the `recordClosedWon` mutation
 * (idempotent on the opportunity id). Answers 201 when the deal was recorded (a handoff for a new customer), 200
 * when it already was.
 */
export async function handleCrmWebhook(req: IncomingMessage, res: ServerResponse, options: CrmWebhookOptions): Promise<void> {
  if (!options.secret) {
    return sendError(res, 404, 'NOT_CONFIGURED', 'The CRM webhook is not enabled on this server: set CRM_WEBHOOK_SECRET and restart Lifeline.');
  }
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    return sendError(res, 405, 'METHOD_NOT_ALLOWED', 'Send closed-won deals with POST.');
  }
  let body: string;
  try {
    body = (await readBoundedBody(req, CRM_WEBHOOK_BODY_LIMIT)).toString('utf8');
  } catch (error) {
    if (error instanceof BodyTooLargeError) return refuseBodyTooLarge(req, res, error.limit, 'Send one deal per request.');
    throw error;
  }

  // SECURITY: the signature covers the timestamp and the exact bytes received, compared in constant time.
  const timestamp = Number(header(req, CRM_TIMESTAMP_HEADER));
  const signature = header(req, CRM_SIGNATURE_HEADER) ?? '';
  const nowSeconds = Math.floor((options.now?.() ?? new Date()).getTime() / 1000);
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > MAX_SKEW_SECONDS) {
    return sendError(
      res,
      401,
      'UNAUTHENTICATED',
      `Missing or stale ${CRM_TIMESTAMP_HEADER}: send the current Unix time in seconds (requests more than ${MAX_SKEW_SECONDS} s off are refused).`,
    );
  }
  const expected = Buffer.from(signCrmWebhook(options.secret, timestamp, body));
  const presented = Buffer.from(signature);
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    return sendError(
      res,
      401,
      'UNAUTHENTICATED',
      `Bad ${CRM_SIGNATURE_HEADER}: it must be "v1=" + hex HMAC-SHA256 of "<timestamp>.<body>" with the shared CRM_WEBHOOK_SECRET.`,
    );
  }

  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return sendError(res, 400, 'BAD_USER_INPUT', 'The body is not JSON.');
  }
  // PostgreSQL cannot store a NUL character in text: refuse it here, naming the field, instead of failing the insert.
  const nulField = findNulCharacter(json);
  if (nulField !== undefined) {
    const field = fieldPath(nulField);
    return sendError(res, 400, 'BAD_USER_INPUT', nulCharacterMessage(field), field);
  }
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = fieldPath(issue?.path ?? []);
    return sendError(res, 400, 'BAD_USER_INPUT', `${field}: ${issue?.message ?? 'invalid'}`, field);
  }
  const deal = parsed.data;
  try {
    const byEmail = await findUserIdsByEmail(options.db, [deal.aeEmail ?? '', deal.csmEmail ?? '']);
    const personId = (id: string | null | undefined, email: string | null | undefined, field: string): string | null => {
      if (id) return id;
      if (!email) return null;
      const found = byEmail.get(email.trim().toLowerCase());
      if (!found) throw new InvalidInputError(`${field}: no Lifeline user has the email ${email}. Add them to Lifeline first, or leave it out.`, field);
      return found;
    };
    const result = await recordClosedWon(options.db, {
      opportunityId: deal.opportunityId,
      account: deal.account,
      aeId: personId(deal.aeId, deal.aeEmail, 'aeEmail'),
      csmId: personId(deal.csmId, deal.csmEmail, 'csmEmail'),
      closedWonAt: new Date(deal.closedWonAt),
      context: deal.context ?? {},
      goLiveTarget: deal.goLiveTarget ?? null,
      actor: crmActor,
      ...(options.renewalWindowDays !== undefined ? { renewalWindowDays: options.renewalWindowDays } : {}),
    });
    // An existing customer's deal (kind renewal, expansion, contraction or amendment) has no handoff.
    return send(res, result.created ? 201 : 200, {
      kind: result.kind,
      handoffId: result.handoff?.id ?? null,
      accountId: result.account.id,
      revenueChangeId: result.revenueChange?.id ?? null,
      created: result.created,
    });
  } catch (error) {
    if (error instanceof DomainError) return sendError(res, statusOf[error.code] ?? 400, error.code, error.message, error.field);
    options.logger.error({ err: error }, 'CRM webhook failed');
    return sendError(res, 500, 'INTERNAL', 'Lifeline could not record this deal. Retry later; the same opportunity id is never recorded twice.');
  }
}

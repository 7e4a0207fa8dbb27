import pino, { type Logger } from 'pino';
import type { Config } from './config.ts';

// SECURITY: secrets never reach logs, whatever a caller passes in.
const redact = [
  'token',
  '*.token',
  'botToken',
  '*.botToken',
  'signingSecret',
  '*.signingSecret',
  'adminToken',
  '*.adminToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers["x-slack-signature"]',
  'config.database.url',
];

export function createLogger(level: Config['logLevel']): Logger {
  return pino({ level, redact: { paths: redact, censor: '[redacted]' }, base: { service: 'lifeline' } });
}

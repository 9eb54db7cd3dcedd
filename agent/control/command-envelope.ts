import { z } from 'zod';
import { isPlainObject } from './safe-json.js';

// The command envelope: { "id": "...", "command": "...", "args": { ... }, "expires_at": "..." }.

/** Printable ASCII without spaces: safe in logs and topics, and what UUIDs and ULIDs look like. */
const ID = /^[\x21-\x7e]{1,128}$/;

export const envelopeSchema = z.strictObject({
  id: z.string().regex(ID, 'expected 1..128 printable ASCII characters'),
  command: z.string().min(1).max(64),
  args: z.record(z.string(), z.unknown()).optional(),
  expires_at: z.iso.datetime({ offset: true }).optional(),
});

export type Envelope = z.infer<typeof envelopeSchema>;

/** The id to answer, if the message has one we can use; without it nobody can be answered. */
export function usableId(value: unknown): string | null {
  if (!isPlainObject(value)) return null;
  const id = value.id;
  return typeof id === 'string' && ID.test(id) ? id : null;
}

/** Why the command is too old to run, or null. */
export function expiry(envelope: Envelope, now: Date): string | null {
  if (envelope.expires_at === undefined) return null;
  const at = Date.parse(envelope.expires_at);
  return at <= now.getTime() ? `expired at ${envelope.expires_at}` : null;
}

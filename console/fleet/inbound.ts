import { z } from 'zod';
import { agentStateSchema, commandReplySchema } from '../../agent/core/control.js';
import { probeResultSchema } from '../../agent/core/result.js';
import { safeParseJson } from '../../agent/control/safe-json.js';
import type { IngestItem } from '../store/store.js';
import type { ConsoleTopics } from '../topics.js';

// What a device's message means to the store. Everything is parsed and validated with the
// agent's own schemas; a message that does not fit becomes a 'rejected' item (counted on the
// device, acknowledged all the same: a redelivery would not make it any better).

/** Telemetry messages are bigger than control messages; the agent's default cap is 256 KB. */
const TELEMETRY_LIMITS = { maxBytes: 1024 * 1024, maxDepth: 8 };

const telemetrySchema = z.object({
  schema: z.literal(1),
  device: z.string(),
  stream: z.string().min(1).max(200),
  results: z.array(probeResultSchema.extend({ seq: z.number().int().nonnegative() })),
});

/** Returns null for messages the console ignores (unknown topics, a cleared retained status). */
export function toIngestItem(topics: ConsoleTopics, topic: string, payload: Buffer, at: number): IngestItem | null {
  const t = topics.parse(topic);
  if (!t) return null;
  const { device } = t;
  const reject = (reason: string): IngestItem => ({ kind: 'rejected', device, reason: `${t.kind}: ${reason}`, at });
  if (t.kind === 'other-event') return null;
  if (t.kind === 'status') {
    const s = payload.toString('utf8');
    if (s === '') return null;
    if (s !== 'online' && s !== 'offline') return reject(`expected "online" or "offline", got ${JSON.stringify(s.slice(0, 40))}`);
    return { kind: 'presence', device, online: s === 'online', source: 'status', at };
  }
  const parsed = safeParseJson(payload, t.kind === 'telemetry' ? TELEMETRY_LIMITS : undefined);
  if (!parsed.ok) return reject(parsed.reason);
  switch (t.kind) {
    case 'telemetry': {
      const r = telemetrySchema.safeParse(parsed.value);
      if (!r.success) return reject(firstIssue(r.error));
      if (r.data.device !== device) return reject(`message names device "${r.data.device}" but came on ${device}'s topic`);
      return { kind: 'telemetry', device, stream: r.data.stream, results: r.data.results, at };
    }
    case 'replies': {
      const r = commandReplySchema.safeParse(parsed.value);
      return r.success ? { kind: 'reply', device, reply: r.data, at } : reject(firstIssue(r.error));
    }
    case 'state': {
      const r = agentStateSchema.safeParse(parsed.value);
      if (!r.success) return reject(firstIssue(r.error));
      if (r.data.device !== device) return reject(`state names device "${r.data.device}" but came on ${device}'s topic`);
      return { kind: 'state', device, state: r.data, at };
    }
  }
}

function firstIssue(err: z.ZodError): string {
  const i = err.issues[0];
  if (!i) return 'invalid';
  const path = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  return `${path || '(message)'}: ${i.message}${err.issues.length > 1 ? ` (+${err.issues.length - 1} more)` : ''}`;
}

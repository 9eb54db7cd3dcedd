import { safeParseJson } from '../control/safe-json.js';
import { formatProblem, zodProblems } from '../control/remote-config.js';
import { PinnedDir, UnsafeFileError } from './files.js';
import { REQUEST_FILE, REQUEST_MAX_BYTES, requestFileSchema, shapeOf, type UpdateRequest } from './protocol.js';

export type ReadRequest = { ok: true; request: UpdateRequest } | { ok: false; reason: string; id?: string };

const ID_RE = /^[\x21-\x7e]{1,128}$/;

/**
 * The agent's request, read by root: a regular file of the agent's own, small, not a link,
 * strict JSON of exactly one of the two shapes. Null when there is none. A reason never
 * quotes the file's content (it may be anything), only which rule it broke.
 */
export function readRequest(dir: PinnedDir, agentUid: number): ReadRequest | null {
  const r = parseRequest(dir, agentUid);
  // Key names from the file can end up in a reason: printable and short, for logs and the result.
  return r === null || r.ok ? r : { ...r, reason: r.reason.replace(/[^\x20-\x7e]/g, '?').slice(0, 300) };
}

function parseRequest(dir: PinnedDir, agentUid: number): ReadRequest | null {
  let raw: Buffer | null;
  try {
    raw = dir.read(REQUEST_FILE, { maxBytes: REQUEST_MAX_BYTES, ownerUid: agentUid });
  } catch (err) {
    if (err instanceof UnsafeFileError) return { ok: false, reason: err.message };
    return { ok: false, reason: `${REQUEST_FILE}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  if (raw === null) return null;
  const parsed = safeParseJson(raw, { maxBytes: REQUEST_MAX_BYTES, maxDepth: 2 });
  const v = parsed.value as Record<string, unknown> | undefined;
  const id = v && typeof v === 'object' && typeof v.id === 'string' && ID_RE.test(v.id) ? v.id : undefined;
  if (!parsed.ok) return { ok: false, reason: `${REQUEST_FILE}: ${parsed.reason}`, ...(id ? { id } : {}) };
  const schema = shapeOf(requestFileSchema, parsed.value);
  if (schema === null) return { ok: false, reason: `${REQUEST_FILE}: expected {version} or {url, sha256, signature}`, ...(id ? { id } : {}) };
  const r = schema.safeParse(parsed.value);
  if (!r.success) return { ok: false, reason: `${REQUEST_FILE}: ${zodProblems(r.error).slice(0, 3).map(formatProblem).join('; ')}`, ...(id ? { id } : {}) };
  return { ok: true, request: r.data as UpdateRequest };
}

/** Takes the request away so that PathExists= does not start the updater again: removed when answered, else set aside. */
export function rejectRequest(dir: PinnedDir, nowMs: number, answered = false): void {
  if (answered) dir.unlink(REQUEST_FILE);
  else dir.rename(REQUEST_FILE, `${REQUEST_FILE}.rejected-${nowMs}`);
}

import { z } from 'zod';

// What the agent and the root updater say to each other through two files, defined once:
// the agent writes <state_dir>/update/request.json, the updater answers in result.json next
// to it. Both sides validate with these schemas; the updater trusts nothing in a request but
// the version, or the URL with its sha256 and signature.

export const UPDATE_SUBDIR = 'update';
export const REQUEST_FILE = 'request.json';
export const RESULT_FILE = 'result.json';
/** A request is a few hundred bytes; anything larger is not one of ours. */
export const REQUEST_MAX_BYTES = 4096;
export const RESULT_MAX_BYTES = 16 * 1024;
/** The package the updater installs, and the only one it accepts in a downloaded .deb. */
export const PACKAGE_NAME = 'fleetprobe';

/** x.y.z, no leading zeros, each part at most 6 digits: nothing apt or a shell could read as more. */
export const VERSION_RE = /^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$/;
const ID_RE = /^[\x21-\x7e]{1,128}$/;
const SHA256_RE = /^[0-9a-f]{64}$/;
/** An Ed25519 signature is 64 bytes: 88 characters of padded standard base64. */
const SIGNATURE_RE = /^[A-Za-z0-9+/]{86}==$/;
export const URL_MAX = 2048;

/** Why a URL is refused, or null: https, a host, no credentials, printable ASCII. */
export function urlProblem(raw: string): string | null {
  if (raw.length > URL_MAX) return `longer than ${URL_MAX} characters`;
  if (!/^[\x21-\x7e]+$/.test(raw)) return 'must be printable ASCII without spaces';
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'not a URL';
  }
  if (u.protocol !== 'https:') return 'must be https://';
  if (u.hostname === '') return 'has no host';
  if (u.username !== '' || u.password !== '') return 'must not carry credentials';
  return null;
}

const versionSchema = z.string().regex(VERSION_RE, 'expected a version x.y.z (digits, no leading zeros)');
const urlSchema = z.string().superRefine((v, ctx) => {
  const p = urlProblem(v);
  if (p) ctx.addIssue({ code: 'custom', message: p });
});
const sha256Schema = z.string().regex(SHA256_RE, 'expected 64 lowercase hex digits');
const signatureSchema = z.string().regex(SIGNATURE_RE, 'expected an Ed25519 signature: 64 bytes in base64 (88 characters)');

/** `args` of the update command: a version from the apt source, or a signed .deb by URL. */
export const updateArgsSchema = z.union([
  z.strictObject({ version: versionSchema }),
  z.strictObject({ url: urlSchema, sha256: sha256Schema, signature: signatureSchema }),
]);
export type UpdateArgs = z.infer<typeof updateArgsSchema>;

const requestBase = { format: z.literal(1), id: z.string().regex(ID_RE), requested_at: z.iso.datetime({ offset: true }) };
export const requestFileSchema = z.union([
  z.strictObject({ ...requestBase, version: versionSchema }),
  z.strictObject({ ...requestBase, url: urlSchema, sha256: sha256Schema, signature: signatureSchema }),
]);
export type UpdateRequest = z.infer<typeof requestFileSchema>;

/**
 * The one of two shapes a value means to be (by its keys), so that a refusal names the field
 * that is wrong rather than "invalid input" of the union.
 */
export function shapeOf<A extends z.ZodType, B extends z.ZodType>(union: { options: readonly [A, B] }, value: unknown): A | B | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  if ('version' in value) return union.options[0];
  if ('url' in value) return union.options[1];
  return null;
}

/**
 * The updater's answer. `status` ok: `installed_version` runs and is healthy. error: it did
 * not happen; `rolled_back` says whether a release was installed and then replaced by the
 * previous one. `installed_version` is what is installed now (null when unknown).
 */
export const resultFileSchema = z.strictObject({
  format: z.literal(1),
  id: z.string().regex(ID_RE),
  status: z.enum(['ok', 'error']),
  installed_version: z.string().max(64).nullable(),
  previous_version: z.string().max(64).nullable(),
  attempted_version: z.string().max(64).nullable(),
  rolled_back: z.boolean(),
  error: z.string().max(2000).optional(),
  finished_at: z.iso.datetime({ offset: true }),
});
export type UpdateResult = z.infer<typeof resultFileSchema>;

/** What a request asks for, in words for logs and replies (never more than the validated fields). */
export function describeRequest(r: UpdateArgs): string {
  return 'version' in r ? `version ${r.version} from the apt source` : `${r.url} (sha256 ${r.sha256.slice(0, 12)}...)`;
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// The CLI is a client of the HTTP API, so a script runs the same operations against a
// console anywhere. On the console's own machine it finds the URL and the token in the
// state directory (console.json, admin-token) without flags.

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly exitCode = 1;
  constructor(readonly status: number, message: string, readonly body: unknown) {
    super(message);
  }
}

export interface ClientSettings {
  url: string;
  token: string;
}

function readTrim(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

export function clientSettings(flags: { url?: string; token?: string; tokenFile?: string }, env: NodeJS.ProcessEnv, stateDir: string): ClientSettings {
  let url = flags.url ?? env.FLEETPROBE_CONSOLE_URL;
  if (!url) {
    const running = readTrim(join(stateDir, 'console.json'));
    try {
      url = running ? (JSON.parse(running) as { url: string }).url : undefined;
    } catch {
      url = undefined;
    }
  }
  let token = flags.token ?? env.FLEETPROBE_CONSOLE_TOKEN;
  if (!token && flags.tokenFile) {
    token = readTrim(flags.tokenFile) ?? undefined;
    if (!token) throw new ApiError(0, `cannot read the token file ${flags.tokenFile}`, null);
  }
  token ??= readTrim(join(stateDir, 'admin-token')) ?? undefined;
  if (!token) throw new ApiError(0, `no admin token: pass --token, --token-file or set FLEETPROBE_CONSOLE_TOKEN (none in ${stateDir}/admin-token)`, null);
  return { url: (url ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''), token };
}

export class ApiClient {
  constructor(private readonly s: ClientSettings) {}

  async call(method: string, path: string, body?: { json: unknown } | { text: string; type: string }): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.s.token}` };
    let payload: string | undefined;
    if (body && 'json' in body) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body) {
      headers['content-type'] = body.type;
      payload = body.text;
    }
    let res: Response;
    try {
      res = await fetch(`${this.s.url}${path}`, { method, headers, ...(payload === undefined ? {} : { body: payload }) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiError(0, `cannot reach the console at ${this.s.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, null);
    }
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').startsWith('application/json')) parsed = JSON.parse(text);
    if (res.status >= 400) {
      const e = parsed as { error?: string; problems?: unknown[] };
      const problems = Array.isArray(e.problems) ? e.problems.map((p) => (typeof p === 'string' ? p : `${(p as { path: string }).path || '(document)'}: ${(p as { reason: string }).reason}`)) : [];
      throw new ApiError(res.status, `${res.status}: ${e.error ?? text}${problems.length > 1 ? ` [${problems.join('; ')}]` : ''}`, parsed);
    }
    return { status: res.status, body: parsed };
  }
}

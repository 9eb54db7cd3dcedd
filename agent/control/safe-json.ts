import { jsonPath } from '../config/probe-schema.js';

// Parsing what arrives from the cloud: bounded before any work is done on it.

export interface JsonLimits {
  maxBytes: number;
  /** Nesting of objects and arrays; the top-level value is depth 1. */
  maxDepth: number;
}

/** Config documents and command envelopes alike. */
export const CONTROL_JSON_LIMITS: JsonLimits = { maxBytes: 64 * 1024, maxDepth: 16 };

/** `value` is set when the text was JSON but broke a rule, so that an id can still be read from it. */
export type SafeJson = { ok: true; value: unknown } | { ok: false; reason: string; value?: unknown };

/** Keys that mean something to JavaScript objects; nothing we accept ever uses them. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function safeParseJson(payload: Buffer | string, limits: JsonLimits = CONTROL_JSON_LIMITS): SafeJson {
  const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (bytes > limits.maxBytes) return { ok: false, reason: `message of ${bytes} bytes exceeds the ${limits.maxBytes}-byte limit` };
  let text: string;
  if (typeof payload === 'string') text = payload;
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
    } catch {
      return { ok: false, reason: 'not valid UTF-8' };
    }
  }
  // Before JSON.parse: a deep document is refused without building it.
  if (nestingExceeds(text, limits.maxDepth)) return { ok: false, reason: `nested deeper than ${limits.maxDepth} levels` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `invalid JSON: ${(err as Error).message.split('\n')[0]}` };
  }
  const bad = forbiddenKey(value, []);
  if (bad !== null) return { ok: false, reason: `forbidden key "${bad.key}" at ${jsonPath(bad.path) || '(top level)'}`, value };
  return { ok: true, value };
}

/** Scans brackets outside strings; JSON syntax itself is left to JSON.parse. */
function nestingExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

function forbiddenKey(value: unknown, path: PropertyKey[]): { key: string; path: PropertyKey[] } | null {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = forbiddenKey(value[i], [...path, i]);
      if (hit) return hit;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (FORBIDDEN_KEYS.has(k)) return { key: k, path };
      const hit = forbiddenKey(v, [...path, k]);
      if (hit) return hit;
    }
  }
  return null;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// Talking to the console: the session cookie goes along by itself (same origin); every
// state-changing request also carries the CSRF token the page fetched after login.

let csrf = null;

export class ApiError extends Error {
  constructor(status, message, data) {
    super(message);
    this.status = status;
    this.data = data;
  }
}

export async function startSession() {
  const res = await fetch('/ui/session', { credentials: 'same-origin' });
  if (res.status === 401) {
    location.assign('/ui/login');
    return new Promise(() => {});
  }
  const body = await res.json();
  csrf = body.csrf;
  return csrf;
}

export function csrfToken() {
  return csrf;
}

export async function api(path, { method = 'GET', body } = {}) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  let payload;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  if (res.status === 401) {
    location.assign('/ui/login');
    return new Promise(() => {});
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: text };
  }
  if (!res.ok) throw new ApiError(res.status, (data && (data.error || data.message)) || `HTTP ${res.status}`, data);
  return data;
}

const enc = encodeURIComponent;

export const fleetApi = {
  fleet: () => api('/api/ui/fleet'),
  device: (id) => api(`/api/ui/devices/${enc(id)}`),
  chart: (id, from, to) => api(`/api/ui/devices/${enc(id)}/chart?from=${Math.round(from)}&to=${Math.round(to)}`),
  // The core API (console/api/routes.ts): register and remove devices, check and push a config, send a command.
  register: (id) => api('/api/devices', { method: 'POST', body: { id } }),
  remove: (id) => api(`/api/devices/${enc(id)}`, { method: 'DELETE' }),
  console: () => api('/api/console'),
  check: (id, text) => api(`/api/devices/${enc(id)}/config/check`, { method: 'POST', body: text }),
  pushConfig: (id, text) => api(`/api/devices/${enc(id)}/config`, { method: 'PUT', body: text }),
  command: (id, command, args) => api(`/api/devices/${enc(id)}/commands`, { method: 'POST', body: args ? { command, args } : { command } }),
};

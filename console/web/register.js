import { fleetApi } from './api.js';
import { h } from './dom.js';

// Registering a device from the fleet list: the console generates its password and shows it
// this once, with the lines the device's agent config needs.

export function registerForm(onRegistered) {
  const id = h('input', {
    id: 'register-id', name: 'id', required: true, placeholder: 'pi-kitchen', autocomplete: 'off', spellcheck: 'false',
    // The agent's own rule for device ids.
    pattern: '[A-Za-z0-9][A-Za-z0-9._:\\-]{0,127}', title: 'letters, digits, . _ : - (1..128)',
  });
  const out = h('div', { id: 'register-result', role: 'status' });
  const form = h('form', { class: 'register' }, h('label', { for: 'register-id' }, 'Device id '), id, h('button', { type: 'submit', class: 'primary' }, 'Register'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    out.className = '';
    out.textContent = 'Registering…';
    try {
      const [reg, info] = await Promise.all([fleetApi.register(id.value.trim()), fleetApi.console().catch(() => null)]);
      const dev = reg.registered[0];
      const url = info?.devices?.mqtt?.[0] ?? 'mqtt://<console>:1883';
      const snippet = JSON.stringify({ device: { id: dev.id }, uplink: { profile: 'mqtt', url, username: dev.id, password: dev.password } }, null, 2);
      out.replaceChildren(
        h('p', { class: 'good' }, `${dev.id} registered. Its password is shown this once:`),
        h('code', { id: 'register-password', class: 'secret' }, dev.password ?? ''),
        h('p', {}, 'In the device\'s agent config (with the console\'s address as the device reaches it):'),
        h('pre', { class: 'snippet' }, snippet),
      );
      id.value = '';
      onRegistered();
    } catch (err) {
      out.className = 'bad';
      out.textContent = `Not registered: ${err.message}`;
    }
  });
  return h('details', { class: 'panel register-box', id: 'register' }, h('summary', {}, 'Register a device'), form, out);
}

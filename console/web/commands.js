import { fleetApi } from './api.js';
import { dateTime, h } from './dom.js';

// Command buttons and the device's recent commands with their replies (refreshed with the page).

const COMMANDS = [
  { name: 'start', help: 'Start monitoring' },
  { name: 'stop', help: 'Stop monitoring (results stop until start)' },
  { name: 'probe-now', help: 'Run every probe once now' },
  { name: 'drain', help: 'Deliver the outbox now' },
  { name: 'restart', help: 'Restart the agent', confirm: 'Restart the agent on this device?' },
  { name: 'update', help: 'Update the agent', confirm: 'Update the agent on this device?' },
];

function replyText(c) {
  if (!c.reply) return '';
  const parts = [];
  if (c.reply.error) parts.push(c.reply.error);
  if (c.reply.result !== undefined) parts.push(JSON.stringify(c.reply.result));
  return parts.join(' ');
}

export function commandsPanel(id) {
  const status = h('p', { class: 'muted', id: 'command-status', role: 'status' });
  const body = h('tbody');
  let latest = null;
  const buttons = COMMANDS.map((c) => h('button', {
    type: 'button', title: c.help, dataset: { command: c.name },
    onclick: async (ev) => {
      if (c.confirm && !window.confirm(c.confirm)) return;
      const btn = ev.currentTarget;
      btn.disabled = true;
      status.textContent = `Sending ${c.name}…`;
      try {
        const res = await fleetApi.command(id, c.name);
        latest = res?.id ?? null;
        status.textContent = `${c.name} sent${latest ? ` (id ${latest})` : ''}; waiting for the reply…`;
      } catch (err) {
        status.textContent = `${c.name} not sent: ${err.message}`;
      } finally {
        btn.disabled = false;
      }
    },
  }, c.name));
  const table = h('table', { class: 'commands', id: 'command-log' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Sent'), h('th', {}, 'Command'), h('th', {}, 'Status'), h('th', {}, 'Reply'))), body);
  const el = h('div', {}, h('div', { class: 'buttons' }, buttons), status, table);

  function update(detail) {
    body.replaceChildren(...detail.commands.map((c) => {
      const st = c.status;
      return h('tr', { dataset: { id: c.id, status: st }, class: c.id === latest ? 'latest' : '' },
        h('td', { 'data-label': 'Sent' }, dateTime(Date.parse(c.created_at))),
        h('td', { 'data-label': 'Command' }, c.command),
        h('td', { 'data-label': 'Status' }, h('span', { class: `badge ${st === 'ok' ? 'good' : st === 'sent' || st === 'pending' ? 'warn' : 'bad'}` }, st)),
        h('td', { 'data-label': 'Reply', class: 'reply' }, replyText(c)));
    }));
    const mine = detail.commands.find((c) => c.id === latest);
    if (mine) {
      const st = mine.status;
      if (st !== 'sent' && st !== 'pending') status.textContent = `${mine.command}: ${st}${replyText(mine) ? ` — ${replyText(mine)}` : ''}`;
    }
  }
  return { el, update };
}

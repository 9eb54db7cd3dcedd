import { csrfToken, startSession } from './api.js';
import { deviceView } from './device.js';
import { fleetView } from './fleet.js';

// The web UI: plain ES modules the browser loads as they are (no bundler, no build step),
// a hash router with two views: #/ the fleet, #/device/<id> one device.

const root = document.getElementById('app');
const nav = document.getElementById('crumbs');
let teardown = null;

function route() {
  if (teardown) teardown();
  const m = /^#\/device\/(.+)$/.exec(location.hash);
  teardown = m ? deviceView(root, nav, decodeURIComponent(m[1])) : fleetView(root, nav);
  window.scrollTo(0, 0);
}

document.getElementById('logout').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  await fetch('/ui/logout', { method: 'POST', headers: { 'x-csrf-token': csrfToken() }, credentials: 'same-origin' });
  location.assign('/ui/login');
});

await startSession();
window.addEventListener('hashchange', route);
route();

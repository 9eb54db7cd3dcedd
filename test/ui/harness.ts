// The web UI's end-to-end world: a console started in-process (embedded broker, SQLite
// store, HTTP API and UI), one real agent (`fleetprobe run`, raw ICMP to 127.0.0.1 and ::1)
// registered to it with a password, and a real headless Chromium from Debian's `chromium`
// package driven by playwright-core.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AgentProcess } from '../helpers/agent-process.js';
import { startTestConsole, TOKEN, type TestConsole } from '../console/helpers.js';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Where the tests save their screenshots: docs/screenshots/ (the README's pictures) with
 * UPDATE_SCREENSHOTS=1, else a temp dir, so that a test run leaves the work tree as it was.
 */
export function screenshotDir(): string {
  const dir = process.env.UPDATE_SCREENSHOTS === '1'
    ? fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url))
    : join(tmpdir(), 'fleetprobe-ui-screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}
export const DEVICE = 'pi-lab-01';
const DEVICE_PASSWORD = 'ui-test-device-password';

/** Headless, no sandbox (root in a container), and nothing that phones home. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-default-apps',
      '--disable-domain-reliability',
      '--disable-sync',
      '--no-first-run',
      '--metrics-recording-only',
      '--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication',
    ],
  });
}

/** The agent's file config: two loopback probes every 2 s, and a local safety policy remote config must pass. */
export function agentConfig(dir: string, mqttPort: number): Record<string, unknown> {
  return {
    device: { id: DEVICE },
    state_dir: dir,
    log_level: 'debug',
    agent_operations: { monitoring_enabled: true, probe_interval: 2 },
    probes: [
      { name: 'loopback-v4', ip_address: '127.0.0.1', count: 5, interval_ms: 50, timeout_ms: 500 },
      { name: 'loopback-v6', ip_address: '::1', count: 5, interval_ms: 50, timeout_ms: 500 },
    ],
    uplink: { profile: 'mqtt', url: `mqtt://127.0.0.1:${mqttPort}`, client_id: DEVICE, username: DEVICE, password: DEVICE_PASSWORD, batch_max: 50 },
    // Remote config may probe loopback only because this local policy allows it; it also caps
    // the packet size, which the test's rejected config breaks.
    safety: { allow_cidrs: ['127.0.0.0/8', '::1/128'], max_size: 512, restart_min_uptime_s: 0 },
    state_interval: 2,
  };
}

export interface UiWorld {
  console: TestConsole;
  agent: AgentProcess;
  browser: Browser;
  baseUrl: string;
  token: string;
  stop(): Promise<void>;
}

export async function startWorld(): Promise<UiWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'fp-ui-agent-'));
  const c = await startTestConsole();
  let agent: AgentProcess | null = null;
  let browser: Browser | null = null;
  try {
    const reg = await c.api('POST', '/api/devices', { id: DEVICE, password: DEVICE_PASSWORD });
    if (reg.status !== 201) throw new Error(`registration failed: ${reg.status} ${JSON.stringify(reg.body)}`);
    agent = AgentProcess.start(dir, agentConfig(dir, c.mqttPort!));
    browser = await launchChromium();
  } catch (err) {
    await agent?.stop().catch(() => undefined);
    await c.remove();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const a = agent;
  const b = browser;
  return {
    console: c,
    agent: a,
    browser: b,
    baseUrl: c.httpUrl,
    token: TOKEN,
    async stop() {
      await b.close().catch(() => undefined);
      await a.stop().catch(() => undefined);
      await c.remove();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function logIn(page: Page, baseUrl: string, secret: string): Promise<void> {
  await page.goto(`${baseUrl}/ui/`);
  await page.waitForURL(/\/ui\/login$/);
  await page.fill('#secret', secret);
  await Promise.all([page.waitForURL(/\/ui\/$/), page.click('button[type=submit]')]);
}

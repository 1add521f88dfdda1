// Shared set-up for the browser suite: Debian's chromium through playwright-core (never a
// downloaded browser), one fresh context per test, and failure on any uncaught page error
// (a broken wasm module shows up only as a `pageerror`).
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const BASE_URL = required('E2E_BASE_URL');
export const FAKE_TWILIO_URL = process.env.E2E_FAKE_TWILIO_URL ?? '';
export const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
mkdirSync(ARTIFACTS, { recursive: true });

export const DESKTOP = { width: 1280, height: 860 };
export const MOBILE = { width: 360, height: 740 };

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run'];

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the suite with scripts/e2e.sh`);
  }
  return value.replace(/\/$/, '');
}

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}

/**
 * A page in a new context (own cookies). `page.errors` collects uncaught errors;
 * `close()` fails the test if there were any.
 */
export async function openPage(browser, { viewport = DESKTOP, isMobile = false, baseURL = BASE_URL } = {}) {
  const context = await browser.newContext({
    baseURL,
    viewport,
    isMobile,
    hasTouch: isMobile,
    deviceScaleFactor: 1,
  });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  page.on('console', (msg) => {
    // A Rust panic logs through console_error_panic_hook before the wasm traps.
    if (msg.type() === 'error' && /panicked at/.test(msg.text())) {
      errors.push(new Error(msg.text()));
    }
  });
  return {
    page,
    context,
    errors,
    async close() {
      await context.close();
      if (errors.length) {
        throw new Error(`uncaught page errors:\n${errors.map((e) => e.stack ?? e).join('\n')}`);
      }
    },
  };
}

/** Polls `fn` until it returns a truthy value. */
export async function until(fn, { timeout = 15_000, interval = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Waits until the locator's text matches. */
export async function expectText(locator, pattern, { timeout = 15_000 } = {}) {
  await until(async () => {
    const text = await locator.innerText({ timeout: 1_000 });
    return pattern.test(text);
  }, { timeout, what: `${locator} to show ${pattern}` });
}

/** Waits until the page is at `path` (pathname, or a RegExp over pathname + search). */
export async function expectPath(page, path, { timeout = 15_000 } = {}) {
  await page.waitForURL((url) => (path instanceof RegExp ? path.test(url.pathname + url.search) : url.pathname === path), { timeout });
}

// `E2E_DOCS_SCREENSHOTS=1 scripts/e2e.sh` also writes the README's screenshots here (a normal
// run leaves the committed copies alone: they would change with every run's numbers).
const DOCS_SCREENSHOTS = process.env.E2E_DOCS_SCREENSHOTS
  ? fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url))
  : null;

/**
 * Saves `artifacts/<name>-<width>.png`; with `docs`, also `docs/screenshots/<name>-<width>.png`
 * when the run was asked for them.
 */
export async function screenshot(page, name, { docs = false } = {}) {
  const width = page.viewportSize()?.width ?? 0;
  const file = `${name}-${width}.png`;
  await page.screenshot({ path: `${ARTIFACTS}${file}`, fullPage: true });
  if (docs && DOCS_SCREENSHOTS) {
    mkdirSync(DOCS_SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: `${DOCS_SCREENSHOTS}${file}`, fullPage: true });
  }
}

/** True when nothing on the page is wider than the viewport (no sideways scrolling). */
export async function fitsViewport(page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
}

let counter = 0;
/** A unique email for this run. */
export function uniqueEmail(tag = 'user') {
  counter += 1;
  return `${tag}.${Date.now().toString(36)}.${process.pid}.${counter}@example.com`;
}

/** A random valid UK mobile number: typed form and E.164. */
export function ukMobile() {
  const rest = String(Math.floor(Math.random() * 1_000_000)).padStart(6, '0');
  return { typed: `07400 ${rest}`, international: `+44 7400 ${rest}`, e164: `+447400${rest}` };
}

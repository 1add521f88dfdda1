// The bot challenge in the browser tests: the local Turnstile stand-in served in place of
// Cloudflare's script, and the fake siteverify's record (crates/fake-captcha).
import { readFileSync } from 'node:fs';

export const CAPTCHA_BASE_URL = process.env.E2E_CAPTCHA_BASE_URL ?? '';
const FAKE_CAPTCHA_URL = process.env.E2E_FAKE_CAPTCHA_URL ?? '';
const STAND_IN = readFileSync(new URL('../stand-ins/turnstile.js', import.meta.url), 'utf8');

/** Serves the stand-in wherever the page asks for Turnstile's api.js. */
export async function standInForTurnstile(context) {
  await context.route('https://challenges.cloudflare.com/turnstile/v0/api.js*', (route) =>
    route.fulfill({ status: 200, contentType: 'text/javascript', body: STAND_IN }));
}

/** What the fake siteverify received, oldest first: `{secret, response, remoteip}`. */
export async function siteverifyRequests() {
  if (!FAKE_CAPTCHA_URL) throw new Error('E2E_FAKE_CAPTCHA_URL is not set');
  const res = await fetch(`${FAKE_CAPTCHA_URL}/_fake/requests`);
  if (!res.ok) throw new Error(`fake siteverify: ${res.status}`);
  return res.json();
}

// The fake Twilio's control API (crates/fake-twilio): what was "sent", and delivery
// reports fired back to the API as signed status callbacks.
import { FAKE_TWILIO_URL, until } from './harness.js';

async function call(path, init) {
  if (!FAKE_TWILIO_URL) throw new Error('E2E_FAKE_TWILIO_URL is not set');
  const res = await fetch(`${FAKE_TWILIO_URL}${path}`, init);
  if (!res.ok) throw new Error(`fake twilio ${path}: ${res.status} ${await res.text()}`);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export async function messages() {
  return (await call('/_fake/messages')).messages;
}

/** Messages sent to `e164`, oldest first. */
export async function messagesTo(e164) {
  return (await messages()).filter((m) => m.to === e164);
}

/** Waits for the `n`th message (1-based) to `e164` and returns it. */
export async function nthMessageTo(e164, n, { timeout = 15_000 } = {}) {
  return until(async () => (await messagesTo(e164))[n - 1], { timeout, what: `SMS #${n} to ${e164}` });
}

/** The 6-digit code in a message body. */
export function codeIn(message) {
  const match = /\b(\d{6})\b/.exec(message.body);
  if (!match) throw new Error(`no code in ${JSON.stringify(message.body)}`);
  return match[1];
}

/** Waits for the `n`th SMS to `e164` and returns its code. */
export async function nthCodeTo(e164, n = 1) {
  return codeIn(await nthMessageTo(e164, n));
}

/** Fires a signed status callback for a message. */
export async function reportStatus(sid, status, errorCode = null) {
  return call(`/_fake/messages/${sid}/status`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ status, error_code: errorCode }),
  });
}

// "Call me instead" (SPEC §13): when the SMS does not come, the code step offers a call
// once the API opens it (CHANNEL_FALLBACK_AFTER, 3 s on the suite's voice-and-WhatsApp
// API), counting down until then; the call says the same code, which verifies the
// number. At a phone's width and a desktop's.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { messagesTo } from '../lib/fake_twilio.js';
import {
  DESKTOP, FAKE_TWILIO_URL, MOBILE, expectPath, expectText, fitsViewport, launch, openPage,
  screenshot, ukMobile, uniqueEmail, until,
} from '../lib/harness.js';
import { DashboardPage } from '../pages/dashboard.js';
import { RegisterPage } from '../pages/register.js';
import { VerificationStep } from '../pages/verification.js';

const CHANNELS_BASE_URL = process.env.E2E_CHANNELS_BASE_URL ?? '';
const skip = !CHANNELS_BASE_URL && 'E2E_CHANNELS_BASE_URL is not set';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** The fake Twilio takes every SMS to `e164` and loses it, as a carrier may. */
async function dropSmsTo(e164) {
  const res = await fetch(`${FAKE_TWILIO_URL}/_fake/drop`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ to: e164 }),
  });
  assert.equal(res.status, 204, 'the fake drops SMS to the number');
}

/** The digits the call's first <Say> speaks. */
function spoken(twiml) {
  const said = /<Say[^>]*>(.*?)<\/Say>/.exec(twiml);
  assert.ok(said, `no <Say> in ${twiml}`);
  return said[1].replace(/\D/g, '');
}

for (const [name, viewport, isMobile] of [['360 px', MOBILE, true], ['1280 px', DESKTOP, false]]) {
  test(`at ${name}: the SMS never comes, "Call me instead" opens and the spoken code verifies`, { skip }, async () => {
    const t = await openPage(browser, { baseURL: CHANNELS_BASE_URL, viewport, isMobile });
    const { page } = t;
    const phone = ukMobile();
    await dropSmsTo(phone.e164);
    const register = new RegisterPage(page);
    await register.goto();
    await register.fill({
      fullName: 'Grace Hopper', email: uniqueEmail('call'), password: 'correct horse battery staple',
      phone: phone.typed, country: 'GB',
    });
    await expectText(page.locator('[id="phone-status"]'), /Mobile number: \+44 7400/);
    await register.submit.click();
    const step = new VerificationStep(page);
    await step.waitFor();
    const sms = await until(async () => (await messagesTo(phone.e164)).find((m) => m.kind !== 'call'),
      { what: 'the dropped SMS' });
    assert.equal(sms.dropped, true, 'the SMS was lost on the way');

    const call = step.region.getByRole('button', { name: /^Call me instead/ });
    const whatsapp = step.region.getByRole('button', { name: /^Send by WhatsApp/ });
    // Offered at once, open only after the fallback time: counting down until then.
    await expectText(call, /^Call me instead in 0:0[1-3]$/);
    assert.ok(await call.isDisabled(), 'the call waits for the first SMS to have its chance');
    await whatsapp.waitFor();
    assert.ok(await fitsViewport(page), 'the buttons fit the viewport');
    await screenshot(page, `channels-offered-${viewport.width}`);
    await until(() => call.isEnabled(), { timeout: 10_000, what: 'the call to open' });
    await expectText(call, /^Call me instead$/);

    await call.click();
    await expectText(step.status, new RegExp(`We are calling ${phone.international.replace(/\+/g, '\\+')} to say the code\\.`));
    const placed = await until(async () => (await messagesTo(phone.e164)).find((m) => m.kind === 'call'),
      { what: 'the call' });
    // Once used, a channel is not offered again for this code.
    await until(async () => (await call.count()) === 0, { what: 'the call button to go' });

    await step.enter(spoken(placed.twiml));
    await expectPath(page, '/dashboard');
    await new DashboardPage(page).badge('Verified').waitFor();
    await t.close();
  });
}

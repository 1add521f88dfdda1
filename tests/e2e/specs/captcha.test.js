// The bot challenge (SPEC §11) against an API with CAPTCHA_MODE=always, Turnstile's
// script replaced by a local stand-in and siteverify by the fake: the SPA shows the
// widget on 422 captcha-required and sends the request again with its token.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { CAPTCHA_BASE_URL, siteverifyRequests, standInForTurnstile } from '../lib/fake_captcha.js';
import { nthCodeTo } from '../lib/fake_twilio.js';
import { signUp } from '../lib/flows.js';
import { expectPath, expectText, launch, openPage, screenshot } from '../lib/harness.js';
import { DashboardPage } from '../pages/dashboard.js';
import { RegisterPage } from '../pages/register.js';
import { VerificationStep } from '../pages/verification.js';

const skip = !CAPTCHA_BASE_URL && 'E2E_CAPTCHA_BASE_URL is not set';
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

function challenge(page) {
  const dialog = page.getByRole('dialog', { name: 'One more step' });
  return {
    dialog,
    widget: dialog.getByRole('button', { name: "I'm a person (test stand-in)" }),
    cancel: dialog.getByRole('button', { name: 'Cancel' }),
  };
}

test('signup with a phone asks for the bot check, then sends the code', { skip }, async () => {
  const t = await openPage(browser, { baseURL: CAPTCHA_BASE_URL });
  const { page } = t;
  await standInForTurnstile(t.context);
  const before = (await siteverifyRequests()).length;
  const user = await signUp(page, { withPhone: true });

  const { dialog, widget } = challenge(page);
  await widget.waitFor();
  assert.equal(await widget.getAttribute('data-sitekey'), 'e2e-site-key');
  await screenshot(page, 'captcha-challenge');
  await widget.click();
  await dialog.waitFor({ state: 'detached' });

  const step = new VerificationStep(page);
  await step.waitFor();
  await step.enter(await nthCodeTo(user.phone.e164, 1));
  await expectPath(page, '/dashboard');
  await new DashboardPage(page).badge('Verified').waitFor();

  const seen = (await siteverifyRequests()).slice(before);
  assert.equal(seen.length, 1, JSON.stringify(seen));
  assert.equal(seen[0].secret, 'e2e-captcha-secret');
  assert.match(seen[0].response, /^pass-/);
  assert.equal(seen[0].remoteip, '127.0.0.1');
  await t.close();
});

test('closing the bot check sends nothing and says why', { skip }, async () => {
  const t = await openPage(browser, { baseURL: CAPTCHA_BASE_URL });
  const { page } = t;
  await standInForTurnstile(t.context);
  await signUp(page, { withPhone: true });
  const { dialog, cancel } = challenge(page);
  await cancel.click();
  await dialog.waitFor({ state: 'detached' });
  await expectText(new RegisterPage(page).formAlert.first(), /bot check/i);
  await expectPath(page, '/register');
  await t.close();
});

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { codeIn, nthCodeTo, nthMessageTo } from '../lib/fake_twilio.js';
import { signUp } from '../lib/flows.js';
import { expectPath, expectText, launch, openPage, until } from '../lib/harness.js';
import { DashboardPage } from '../pages/dashboard.js';
import { VerificationStep } from '../pages/verification.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

function wrongCode(code) {
  return code.split('').map((d) => String((Number(d) + 1) % 10)).join('');
}

test('a wrong code says how many attempts are left; the right one still works', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const user = await signUp(page);
  const step = new VerificationStep(page);
  await step.waitFor();
  const code = await nthCodeTo(user.phone.e164, 1);

  await step.enter(wrongCode(code));
  await expectText(step.alert, /not right\. 4 attempts left/);
  await expectText(step.region, /4 attempts left\./);
  assert.equal(await step.value(), '', 'the boxes are cleared for the next try');
  assert.equal(await step.firstBox.getAttribute('aria-invalid'), 'true');

  await step.enter(wrongCode(wrongCode(code)));
  await expectText(step.alert, /3 attempts left/);

  // An incomplete code is caught before it costs an attempt.
  await step.type('12');
  await step.verify.click();
  await expectText(step.alert, /^The code must be exactly 6 digits\.$/);

  await step.enter(code);
  await expectPath(page, '/dashboard');
  await new DashboardPage(page).badge('Verified').waitFor();
  await t.close();
});

test('resend counts down from resend_after, then sends a new code that replaces the old one', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const user = await signUp(page);
  const step = new VerificationStep(page);
  await step.waitFor();
  const first = await nthCodeTo(user.phone.e164, 1);

  // VERIFY_RESEND_COOLDOWN is 5 s in the suite.
  assert.ok(await step.resend.isDisabled(), 'resend waits for the cool-down');
  await expectText(step.resend, /Resend code in 0:0[1-5]/);
  const shown = await step.resend.innerText();
  await until(async () => (await step.resend.innerText()) !== shown, { what: 'the countdown to tick' });
  await until(() => step.resend.isEnabled(), { timeout: 10_000, what: 'resend to become available' });
  await expectText(step.resend, /^Resend code$/);

  await step.resend.click();
  await expectText(step.status, /We sent a new code to \+44 7400/);
  await expectText(step.resend, /Resend code in/);
  const second = codeIn(await nthMessageTo(user.phone.e164, 2));

  if (second !== first) {
    await step.enter(first);
    await expectText(step.alert, /not right|expired/);
  }
  // Pasting the new code fills all six boxes.
  await step.paste(second);
  assert.equal(await step.value(), second);
  await step.verify.click();
  await expectPath(page, '/dashboard');
  await new DashboardPage(page).badge('Verified').waitFor();
  await t.close();
});

test('skip for now leaves the number unverified, and the dashboard nudges to verify it', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const user = await signUp(page);
  const step = new VerificationStep(page);
  await step.waitFor();
  await step.skip.click();

  await expectPath(page, '/dashboard');
  const dashboard = new DashboardPage(page);
  await dashboard.badge('Unverified').waitFor();
  await expectText(page.getByRole('main'), /not verified yet/);

  await dashboard.button('Verify').click();
  await step.waitFor();
  await step.enter(await nthCodeTo(user.phone.e164, 1));
  await dashboard.badge('Verified').waitFor();
  await t.close();
});

// README "Test numbers": every outcome family of the preset scripted numbers, as the SPA
// shows it where the code is entered. The numbers' messages go through the API's real
// outbox, receipts and live events to the built-in `script` provider (SMS_TEST_PRESETS,
// on in scripts/e2e.sh); the SPA knows nothing of them and shows what the API reports.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { PASSWORD, signUp } from '../lib/flows.js';
import { expectPath, expectText, launch, openPage, uniqueEmail } from '../lib/harness.js';
import { DashboardPage } from '../pages/dashboard.js';
import { PhoneManagementPage } from '../pages/phone_management.js';
import { RegisterPage } from '../pages/register.js';
import { VerificationStep } from '../pages/verification.js';

// The presets' fixed code (README "Test numbers").
const PRESET_CODE = '000000';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Signs up with a preset number typed in its US national form; resolves at the code step. */
async function signUpWith(page, national) {
  const register = new RegisterPage(page);
  await register.goto();
  await register.fill({ fullName: 'Grace Hopper', email: uniqueEmail('preset'), password: PASSWORD, phone: national, country: 'US' });
  await expectText(page.locator('[id="phone-status"]'), /number: \+1 206-555-01/);
  await register.submit.click();
  const step = new VerificationStep(page);
  await step.waitFor();
  return step;
}

/** Adds a preset number to a new account without one, from `open` (a button that opens the add form). */
async function addNumber(page, national, open) {
  await open.click();
  const number = page.getByRole('textbox', { name: 'Phone number', exact: true });
  await page.getByLabel('Country').selectOption('US');
  await number.fill(national);
  await expectText(page.locator('[id="phone-number-status"]'), /number: \+1 206-555-01/);
  await page.keyboard.press('Enter');
  const step = new VerificationStep(page);
  await step.waitFor();
  return step;
}

/** Every text the code step's delivery region shows, in order, with when (ms) it showed. */
async function recordDelivery(step) {
  await step.delivery.waitFor();
  await step.delivery.evaluate((el) => {
    window.deliverySeen = [{ at: performance.now(), text: el.innerText }];
    new MutationObserver(() => {
      const text = el.innerText;
      if (text !== window.deliverySeen.at(-1).text) window.deliverySeen.push({ at: performance.now(), text });
    }).observe(el, { subtree: true, childList: true, characterData: true });
  });
}

test('delivered (+1 206-555-0100): the code step shows the SMS on its way, then Delivered, and the code works', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const step = await signUpWith(page, '(206) 555-0100');
  await recordDelivery(step);

  await expectText(step.delivery, /Last message: Delivered/);
  const seen = await page.evaluate(() => window.deliverySeen.map((s) => s.text));
  assert.ok(seen.some((s) => /Last message: (Sending…|Sent)/.test(s)), `the SMS was shown on its way first: ${JSON.stringify(seen)}`);
  assert.doesNotMatch(await step.delivery.innerText(), /Error/);

  await step.enter(PRESET_CODE);
  await expectPath(page, '/dashboard');
  await new DashboardPage(page).badge('Verified').waitFor();
  await t.close();
});

test('undelivered (+1 206-555-0102): adding the number shows Not delivered with the API guidance and error', async () => {
  const t = await openPage(browser);
  const { page } = t;
  await signUp(page, { withPhone: false });
  await expectPath(page, '/dashboard');
  const dashboard = new DashboardPage(page);
  const step = await addNumber(page, '(206) 555-0102', dashboard.button('Add phone number'));

  await expectText(step.delivery, /Last message: Not delivered/);
  await expectText(step.delivery, /The phone is switched off or out of coverage\. Try again later\./);
  await expectText(step.delivery, /Error 30003 from script \(SMS\)/);
  await t.close();
});

test('STOP (+1 206-555-0104): the refused send says the number opted out, to text START or use another number', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const step = await signUpWith(page, '(206) 555-0104');

  await expectText(step.delivery, /Last message: Failed/);
  await expectText(step.delivery, /This number replied STOP.*Text START to the sender/s);
  await expectText(step.delivery, /Error 21610 from script/);
  await step.changeNumber.waitFor();
  await t.close();
});

test('not a mobile number (+1 206-555-0105): refused at send, with the API guidance to use a mobile number', async () => {
  const t = await openPage(browser);
  const { page } = t;
  await signUp(page, { withPhone: false });
  await expectPath(page, '/dashboard');
  const manage = new PhoneManagementPage(page);
  await manage.goto();
  const step = await addNumber(page, '(206) 555-0105', manage.add);

  await expectText(step.delivery, /Last message: Failed/);
  await expectText(step.delivery, /This number can't receive text messages\. Use a mobile number\./);
  await expectText(step.delivery, /Error 21614 from script \(SMS\)/);
  assert.doesNotMatch(await step.delivery.innerText(), /STOP/);
  await t.close();
});

test('provider down, then delivered (+1 206-555-0107): the code step shows it sending through the retries, then Delivered', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const step = await signUpWith(page, '(206) 555-0107');
  await recordDelivery(step);

  await expectText(step.delivery, /Last message: Delivered/, { timeout: 20_000 });
  const seen = await page.evaluate(() => window.deliverySeen);
  assert.match(seen[0].text, /Last message: Sending…/, `first: ${JSON.stringify(seen)}`);
  // Two tries fail (backoff 2 s, then 4 s, ±20 %) before the provider takes it: the code
  // stays "Sending…" for seconds, where …0100's is sent after one.
  const moved = seen.find((s) => !/Sending…/.test(s.text));
  assert.ok(moved.at - seen[0].at >= 4000, `Sending… lasted through the retries: ${JSON.stringify(seen)}`);
  assert.doesNotMatch(await step.delivery.innerText(), /Error/);
  await t.close();
});

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { nthCodeTo } from '../lib/fake_twilio.js';
import { signUp, PASSWORD } from '../lib/flows.js';
import { expectPath, expectText, launch, openPage, screenshot, ukMobile, uniqueEmail } from '../lib/harness.js';
import { DashboardPage } from '../pages/dashboard.js';
import { RegisterPage } from '../pages/register.js';
import { VerificationStep } from '../pages/verification.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('signup with a phone: code from the SMS, Verified badge on the dashboard, reload keeps the session', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const user = await signUp(page, { withPhone: true });

  const step = new VerificationStep(page);
  await step.waitFor();
  assert.equal(await step.firstBox.getAttribute('autocomplete'), 'one-time-code');
  assert.equal(await step.firstBox.getAttribute('inputmode'), 'numeric');
  await expectText(step.region, /\+44 7400/);
  await expectText(step.region, /5 attempts left/);
  await screenshot(page, 'register-verify');

  const code = await nthCodeTo(user.phone.e164, 1);
  await step.type(code);
  assert.equal(await step.value(), code, 'typing advanced box by box');
  await step.verify.click();

  await expectPath(page, '/dashboard');
  const dashboard = new DashboardPage(page);
  await dashboard.badge('Verified').waitFor();
  await expectText(dashboard.widget, /07400/);
  await expectText(dashboard.widget, /Last updated (just now|less than a minute ago)/);

  await page.reload();
  await dashboard.badge('Verified').waitFor();
  await expectPath(page, '/dashboard');
  await t.close();
});

test('signup without a phone, then add and verify it from the dashboard widget, keyboard only', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const register = new RegisterPage(page);
  await register.goto();

  // Keyboard only: type into each field and Tab onwards; Enter submits.
  await register.fullName.focus();
  await page.keyboard.type('Grace Hopper');
  await page.keyboard.press('Tab');
  await page.keyboard.type(uniqueEmail('kbd'));
  await page.keyboard.press('Tab');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Tab');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');

  await expectPath(page, '/dashboard');
  const dashboard = new DashboardPage(page);
  await expectText(dashboard.widget, /no phone number yet/i);
  await dashboard.button('Add phone number').focus();
  await page.keyboard.press('Enter');

  const phone = ukMobile();
  const number = page.getByRole('textbox', { name: 'Phone number', exact: true });
  await number.waitFor();
  assert.ok(await number.evaluate((el) => el === document.activeElement), 'focus moved to the number field');
  await page.getByLabel('Country').selectOption('GB');
  await number.fill(phone.typed);
  await expectText(page.locator('[id="phone-number-status"]'), /Mobile number/);
  await page.keyboard.press('Enter');

  const step = new VerificationStep(page);
  await step.waitFor();
  await page.keyboard.type(await nthCodeTo(phone.e164, 1)); // the first box has focus
  await page.keyboard.press('Enter');

  await dashboard.badge('Verified').waitFor();
  await expectText(dashboard.widget, /\+44 7400/);
  await t.close();
});

test('fields are checked as you type with the API messages; server errors land on their fields', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const register = new RegisterPage(page);
  await register.goto();

  await register.email.fill('ann');
  await register.email.blur();
  await expectText(register.errorOf('email'), /^Must be an email address like name@example\.com\.$/);
  assert.equal(await register.email.getAttribute('aria-invalid'), 'true');
  await register.email.fill('ann@example.com');
  await expectText(register.errorOf('email'), /^$/);

  await register.password.fill('short');
  await register.password.blur();
  await expectText(register.errorOf('password'), /at least 8 characters/);
  await register.confirm.fill('different');
  await register.confirm.blur();
  await expectText(register.errorOf('confirm-password'), /must match the password/i);

  await register.country.selectOption('US');
  await register.phone.fill('12');
  await register.phone.blur();
  await expectText(page.locator('[id="phone-error"]'), /valid phone number/i);

  // Submitting with errors focuses the first wrong field and says why.
  await register.submit.click();
  await expectText(register.formAlert, /correct the highlighted fields/);
  assert.ok(await register.fullName.evaluate((el) => el === document.activeElement));

  // An email that is taken: the server's 409 shows next to the email field.
  const other = await openPage(browser);
  const taken = await signUp(other.page, { withPhone: false });
  await expectPath(other.page, '/dashboard');
  await other.close();

  await register.fill({ fullName: 'Ann Lee', email: taken.email, password: PASSWORD });
  await register.phone.fill('');
  await register.submit.click();
  await expectText(register.errorOf('email'), /already exists/);
  await t.close();
});

test('a number that cannot get SMS is refused before submitting', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const register = new RegisterPage(page);
  await register.goto();
  await register.country.selectOption('GB');
  await register.phone.fill('020 7946 0000'); // a London landline
  await register.phone.blur();
  await expectText(page.locator('[id="phone-error"]'), /\S/);
  await t.close();
});

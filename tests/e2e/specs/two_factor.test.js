// Two-step sign-in (SPEC §8): the switch on /dashboard/security, the code step at login.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { codeIn, nthCodeTo, nthMessageTo } from '../lib/fake_twilio.js';
import { PASSWORD, signUp, signUpVerified } from '../lib/flows.js';
import { expectPath, expectText, launch, openPage, until } from '../lib/harness.js';
import { wrongCode } from '../pages/code_form.js';
import { DashboardPage } from '../pages/dashboard.js';
import { LoginPage } from '../pages/login.js';
import { PhoneManagementPage } from '../pages/phone_management.js';
import { SecurityPage } from '../pages/security.js';
import { SignInWithCodePage } from '../pages/sign_in_code.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** From a signed-in page: the Security page, switch on with the password. */
async function turnOn(page, password) {
  const dashboard = new DashboardPage(page);
  await dashboard.sidebar.getByRole('link', { name: 'Security' }).click();
  await expectPath(page, '/dashboard/security');
  const security = new SecurityPage(page);
  await security.heading.waitFor();
  await security.switch.click();
  await security.turnOnForm.waitFor();
  await security.password.fill(password);
  await security.turnOn.click();
  await until(() => security.isOn(), { what: 'the switch to read on' });
  return security;
}

test('turn two-step sign-in on, log in with password and code, turn it off', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const user = await signUpVerified(page); // SMS #1
  const dashboard = new DashboardPage(page);

  await dashboard.sidebar.getByRole('link', { name: 'Security' }).click();
  await expectPath(page, '/dashboard/security');
  const security = new SecurityPage(page);
  await security.heading.waitFor();
  await expectText(security.breadcrumbs, /Dashboard\s*>\s*Security/);
  assert.equal(await dashboard.sidebar.getByRole('link', { name: 'Security' }).getAttribute('aria-current'), 'page');
  assert.equal(await security.isOn(), false);

  // Keyboard: the switch opens the form, focus lands in the password field.
  await security.switch.focus();
  await page.keyboard.press('Enter');
  await security.turnOnForm.waitFor();
  assert.ok(await security.password.evaluate((e) => e === document.activeElement));
  await page.keyboard.type('not my password');
  await page.keyboard.press('Enter');
  await expectText(page.locator('[id="two-factor-password-error"]'), /incorrect/);
  assert.equal(await security.isOn(), false);
  await security.password.fill(PASSWORD);
  await security.turnOn.click();
  await until(() => security.isOn(), { what: 'the switch to read on' });
  await expectText(security.flash, /on/);

  // The number is a credential now: deleting it is refused, with the way out.
  await dashboard.sidebar.getByRole('link', { name: 'Phone Number' }).click();
  const manage = new PhoneManagementPage(page);
  await manage.heading.waitFor();
  await manage.deleteWith(PASSWORD);
  await expectText(page.getByRole('main'), /Two-step sign-in uses this number/);
  await page.getByRole('main').getByRole('link', { name: 'Security' }).waitFor();
  await expectText(manage.status, /Verified/);

  // Log out, then in: the password, then the code texted to the number.
  await dashboard.signOut.click();
  const login = new LoginPage(page);
  await login.heading.waitFor();
  await login.signIn(user.email, user.password);
  await login.twoStep.waitFor();
  await login.twoStepCode.waitFor();
  const attributes = await login.twoStepCode.attributes();
  assert.equal(attributes[0].autocomplete, 'one-time-code');
  assert.ok(attributes.every((a) => a.inputmode === 'numeric'));
  const first = await nthCodeTo(user.phone.e164, 2);
  await login.twoStepCode.type(wrongCode(first));
  await login.twoStepSubmit.click();
  await expectText(login.twoStepCode.alert, /not right\. 4 attempts left/);

  // "Send a new code" is a new sign-in with the same password, after the cool-down.
  await expectText(login.twoStep, /password/);
  await until(() => login.newCode.isEnabled(), { timeout: 10_000, what: 'a new code to be available' });
  await login.newCode.click();
  await expectText(login.twoStepCode.status, /new code/);
  const second = codeIn(await nthMessageTo(user.phone.e164, 3));
  await login.twoStepCode.type(second);
  await login.twoStepSubmit.click();
  await expectPath(page, '/dashboard');
  await dashboard.badge('Verified').waitFor();

  // Off: the password and a code of its own.
  await dashboard.sidebar.getByRole('link', { name: 'Security' }).click();
  await security.heading.waitFor();
  assert.equal(await security.isOn(), true);
  await security.switch.click();
  await security.turnOffForm.waitFor();
  await security.password.fill(PASSWORD);
  await security.sendCode.click();
  await security.code.waitFor();
  await security.code.type(await nthCodeTo(user.phone.e164, 4));
  await security.turnOff.click();
  await until(async () => !(await security.isOn()), { what: 'the switch to read off' });
  await expectText(security.flash, /off/);
  await t.close();
});

test('too many wrong codes at login go back to the password; a code alone is not enough', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const user = await signUpVerified(page); // SMS #1
  await turnOn(page, PASSWORD);
  await new DashboardPage(page).signOut.click();
  const login = new LoginPage(page);
  await login.heading.waitFor();
  await login.signIn(user.email, user.password);
  await login.twoStepCode.waitFor();
  const code = await nthCodeTo(user.phone.e164, 2);
  for (let i = 0; i < 5; i += 1) {
    await login.twoStepCode.type(wrongCode(code));
    await login.twoStepSubmit.click();
    await until(async () => (await login.twoStepCode.value()) === '' || !(await login.twoStep.isVisible()), { what: 'the answer' });
  }
  // The code is used up: the sign-in is over, back to the password with a reason.
  await login.password.waitFor();
  await expectText(login.alert, /sign in again|log in again/i);
  assert.equal(await login.email.inputValue(), user.email);

  // Signing in again sends a new code once the cool-down allows (the button counts down).
  await login.password.fill(user.password);
  await until(async () => {
    if (await login.twoStep.isVisible()) return true;
    if (await login.submit.isEnabled()) await login.submit.click();
    return false;
  }, { timeout: 15_000, interval: 500, what: 'the code step' });
  await login.twoStepCode.type(await nthCodeTo(user.phone.e164, 3));
  await login.twoStepSubmit.click();
  await expectPath(page, '/dashboard');

  // A code alone cannot sign in to such an account: the SPA says to use the password.
  await new DashboardPage(page).signOut.click();
  await login.heading.waitFor();
  await login.withCode.click();
  const withCode = new SignInWithCodePage(page);
  await withCode.start(user.phone.typed);
  await withCode.code.type(await nthCodeTo(user.phone.e164, 4));
  await withCode.submit.click();
  await expectText(withCode.code.alert, /^This account uses two-step sign-in: sign in with your password\.$/);
  await withCode.step.getByRole('link', { name: 'Sign in with your password' }).click();
  await expectPath(page, '/login');
  await login.password.waitFor();
  await t.close();
});

test('turning it on without a verified number says to verify one first', async () => {
  const t = await openPage(browser);
  const { page } = t;
  await signUp(page, { withPhone: false });
  await expectPath(page, '/dashboard');
  const security = new SecurityPage(page);
  await security.goto();
  await security.switch.click();
  await security.password.fill(PASSWORD);
  await security.turnOn.click();
  await expectText(security.alert, /verif(y|ied) phone number/i);
  const link = page.getByRole('main').getByRole('link', { name: /phone number/i });
  await link.click();
  await expectPath(page, '/dashboard/phone-management');
  await t.close();
});

// Credential safety in the SPA (SPEC §10), each at 360 and 1280 px: replacing or deleting
// a verified number asks for the password (a wrong one is shown on the field and never
// ends the session); a reset by SMS on a two-step account also asks for a recovery code,
// keeping what was typed; a number verified on another account is refused only at the
// code step, in plain words, with the way to sign in to that account.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { nthCodeTo } from '../lib/fake_twilio.js';
import { PASSWORD, signUp, signUpVerified, turnOnTwoFactor } from '../lib/flows.js';
import { DESKTOP, MOBILE, expectPath, expectText, fitsViewport, launch, openPage, screenshot, ukMobile, uniqueEmail } from '../lib/harness.js';
import { wrongCode } from '../pages/code_form.js';
import { DashboardPage } from '../pages/dashboard.js';
import { LoginPage } from '../pages/login.js';
import { PhoneManagementPage } from '../pages/phone_management.js';
import { RegisterPage } from '../pages/register.js';
import { ResetPasswordPage } from '../pages/reset_password.js';
import { SignInWithCodePage } from '../pages/sign_in_code.js';
import { VerificationStep } from '../pages/verification.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const WIDTHS = [['360 px', MOBILE], ['1280 px', DESKTOP]];

async function open(viewport) {
  const t = await openPage(browser, { viewport, isMobile: viewport === MOBILE });
  const fits = async (screen) => {
    assert.ok(await fitsViewport(t.page), `${screen} scrolls sideways at ${viewport.width} px`);
    await screenshot(t.page, screen, { docs: true });
  };
  return { ...t, fits };
}

for (const [label, viewport] of WIDTHS) {
  test(`replacing a verified number asks for the password (${label})`, async () => {
    const { page, close, fits } = await open(viewport);
    const user = await signUpVerified(page);
    const manage = new PhoneManagementPage(page);
    await manage.goto();
    await manage.replace.click();
    const next = ukMobile();
    await manage.newNumber.fill(next.international);
    await expectText(page.locator('[id="phone-number-status"]'), /Mobile number/);

    // Nothing typed: said on the field before anything is sent.
    await manage.sendToNew.click();
    await expectText(manage.errorOf('current-password'), /^Enter your password\.$/);
    assert.ok(await manage.replacePassword.evaluate((e) => e === document.activeElement));

    // Wrong: the field says so, the session goes on.
    await manage.replacePassword.fill('not my password');
    await manage.sendToNew.click();
    await expectText(manage.errorOf('current-password'), /incorrect/);
    assert.equal(await manage.replacePassword.getAttribute('aria-invalid'), 'true');
    assert.ok(await manage.replacePassword.evaluate((e) => e === document.activeElement), 'focus goes back to the password');
    await fits('phone-management-replace-wrong-password');
    await expectPath(page, '/dashboard/phone-management');
    await new DashboardPage(page).signOut.waitFor();

    await manage.replacePassword.fill(PASSWORD);
    await manage.sendToNew.click();
    const step = new VerificationStep(page);
    await step.waitFor();
    await step.enter(await nthCodeTo(next.e164, 1));
    await expectText(page.getByRole('main'), /Your phone number is verified/);
    await expectText(manage.current, new RegExp(next.international.replace('+', '\\+')));
    assert.notEqual(next.e164, user.phone.e164);
    await close();
  });

  test(`deleting a verified number asks for the password (${label})`, async () => {
    const { page, close, fits } = await open(viewport);
    await signUpVerified(page);
    const manage = new PhoneManagementPage(page);
    await manage.goto();
    await manage.delete.click();
    await manage.dialogPassword.waitFor();

    await page.keyboard.press('Enter');
    await expectText(manage.errorOf('delete-password'), /^Enter your password\.$/);
    await manage.dialogPassword.fill('not my password');
    await page.keyboard.press('Enter');
    await expectText(manage.errorOf('delete-password'), /incorrect/);
    assert.ok(await manage.dialog.isVisible(), 'the dialog stays open');
    assert.ok(await manage.dialogPassword.evaluate((e) => e === document.activeElement));
    await fits('phone-management-delete-wrong-password');
    await new DashboardPage(page).signOut.waitFor();
    await expectText(manage.current, /\+44 7400/);

    await manage.dialogPassword.fill(PASSWORD);
    await manage.confirmDelete.click();
    await expectText(page.getByRole('main'), /Your phone number was deleted/);
    await manage.add.waitFor();

    // An unverified number is not a credential: no password asked. (Added here, on the
    // management page, whose code step must open even when the event stream announces
    // the new number before the POST's answer arrives.)
    await manage.add.click();
    const another = ukMobile();
    await page.getByLabel('Phone number', { exact: true }).fill(another.international);
    await expectText(page.locator('[id="phone-number-status"]'), /Mobile number/);
    await page.getByRole('button', { name: 'Add number' }).click();
    await new VerificationStep(page).waitFor();
    await page.getByRole('button', { name: 'Later' }).click();
    await manage.delete.click();
    await manage.dialog.waitFor();
    assert.equal(await manage.dialogPassword.count(), 0);
    await manage.confirmDelete.click();
    await expectText(page.getByRole('main'), /Your phone number was deleted/);
    await close();
  });

  test(`a reset by SMS on a two-step account asks for a recovery code (${label})`, async () => {
    const { page, close, fits } = await open(viewport);
    const user = await signUpVerified(page); // SMS #1
    const codes = await turnOnTwoFactor(page);
    await new DashboardPage(page).signOut.click();
    const login = new LoginPage(page);
    await login.heading.waitFor();

    await login.forgot.click();
    const reset = new ResetPasswordPage(page);
    await reset.heading.waitFor();
    await reset.start(user.phone.typed);
    const code = await nthCodeTo(user.phone.e164, 2);
    const fresh = 'a brand new passphrase';
    await reset.code.type(code);
    await reset.password.fill(fresh);
    await reset.confirm.fill(fresh);
    await reset.submit.click();

    // The right SMS code is not enough: a recovery code is asked for, the rest kept.
    await expectText(reset.recoveryNeeded, /two-step sign-in/);
    await reset.recoveryCode.waitFor();
    assert.ok(await reset.recoveryCode.evaluate((e) => e === document.activeElement));
    assert.equal(await reset.recoveryCode.getAttribute('autocomplete'), 'off');
    assert.equal(await reset.errorOf('recovery-code').innerText(), '', 'the new field opens without an error');
    assert.equal(await reset.code.value(), code);
    assert.equal(await reset.password.inputValue(), fresh);
    assert.equal(await reset.confirm.inputValue(), fresh);
    await fits('reset-password-recovery-code');

    await reset.recoveryCode.fill('zzzz-9999');
    await reset.submit.click();
    await expectText(reset.errorOf('recovery-code'), /not an unused recovery code/);
    assert.equal(await reset.code.value(), code, 'the SMS code stays');
    await reset.recoveryCode.fill(codes[0]);
    await reset.submit.click();
    await expectPath(page, '/login');
    await expectText(login.notice, /password was changed/i);

    // Two-step sign-in is still on: the new password, then the code step.
    await login.signIn(user.email, fresh);
    await login.twoStepCode.waitFor();
    await close();
  });

  test(`a number verified on another account is refused at the code step, in plain words (${label})`, async () => {
    const owner = await openPage(browser);
    const mine = await signUpVerified(owner.page); // SMS #1 to the number
    await owner.close();

    const { page, close, fits } = await open(viewport);
    // Adding it answers as for any number: on to the code step (the management page's,
    // whose add form once closed when the event stream announced the number first).
    await signUp(page, { withPhone: false });
    await expectPath(page, '/dashboard');
    const manage = new PhoneManagementPage(page);
    await manage.goto();
    await manage.add.click();
    await page.getByLabel('Phone number', { exact: true }).fill(mine.phone.international);
    await expectText(page.locator('[id="phone-number-status"]'), /Mobile number/);
    await page.getByRole('button', { name: 'Add number' }).click();
    const step = new VerificationStep(page);
    await step.waitFor();

    // A wrong code is just wrong; the right one gets the 409, said plainly.
    const code = await nthCodeTo(mine.phone.e164, 2);
    await step.enter(wrongCode(code));
    await expectText(step.alert, /not right/);
    await step.enter(code);
    await expectText(step.alert, /^This number is verified on another account\. If it is yours, sign in with a code\.$/);
    await step.signInWithCode.waitFor();
    await fits('verify-phone-taken');

    // The way out: signed out here, then sign-in with a code for that account.
    await step.signInWithCode.click();
    await expectPath(page, /^\/login\?method=code$/);
    const withCode = new SignInWithCodePage(page);
    await withCode.heading.waitFor();
    await close();
  });
}

// Register answers as for a free number (no oracle before the code proves possession).
test('signing up with a number verified elsewhere reaches the code step, then says so', async () => {
  const owner = await openPage(browser);
  const mine = await signUpVerified(owner.page); // SMS #1
  await owner.close();

  const t = await openPage(browser);
  const { page } = t;
  const form = new RegisterPage(page);
  await form.goto();
  await form.fill({ fullName: 'Someone Else', email: uniqueEmail(), password: PASSWORD, phone: mine.phone.typed, country: 'GB' });
  await expectText(page.locator('[id="phone-status"]'), /Mobile number/);
  await form.submit.click();
  const step = new VerificationStep(page);
  await step.waitFor();
  await step.enter(await nthCodeTo(mine.phone.e164, 2));
  await expectText(step.alert, /verified on another account/);
  await step.signInWithCode.waitFor();
  await t.close();
});

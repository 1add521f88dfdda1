// Layout at 360 px and 1280 px, with a screenshot of every screen at both widths
// (tests/e2e/artifacts/<screen>-<width>.png; the ones marked `docs` also go to
// docs/screenshots/ with `E2E_DOCS_SCREENSHOTS=1 scripts/e2e.sh`, for the README).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { nthCodeTo } from '../lib/fake_twilio.js';
import { PASSWORD, signUp } from '../lib/flows.js';
import { DESKTOP, MOBILE, expectPath, expectText, fitsViewport, launch, openPage, screenshot, ukMobile, until } from '../lib/harness.js';
import { DashboardPage } from '../pages/dashboard.js';
import { LoginPage } from '../pages/login.js';
import { PhoneManagementPage } from '../pages/phone_management.js';
import { RegisterPage } from '../pages/register.js';
import { ResetPasswordPage } from '../pages/reset_password.js';
import { SecurityPage } from '../pages/security.js';
import { SignInWithCodePage } from '../pages/sign_in_code.js';
import { VerificationStep } from '../pages/verification.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

for (const [label, viewport] of [['mobile 360 px', MOBILE], ['desktop 1280 px', DESKTOP]]) {
  test(`every screen fits and works at ${label}`, async () => {
    const t = await openPage(browser, { viewport, isMobile: viewport === MOBILE });
    const { page } = t;
    const fits = async (screen, { docs = false } = {}) => {
      assert.ok(await fitsViewport(page), `${screen} scrolls sideways at ${viewport.width} px`);
      await screenshot(page, screen, { docs });
    };

    const login = new LoginPage(page);
    await login.goto();
    await fits('login', { docs: true });
    await page.goto('/login?notice=password-changed');
    await expectText(login.notice, /password was changed/);
    await fits('login-password-changed', { docs: true });

    // The code screens look the same for any number (SPEC §8): one without an account
    // sends no SMS.
    const withCode = new SignInWithCodePage(page);
    await login.goto();
    await login.withCode.click();
    await withCode.heading.waitFor();
    await fits('sign-in-code-number', { docs: true });
    await withCode.start(ukMobile().typed);
    await fits('sign-in-code', { docs: true });

    const reset = new ResetPasswordPage(page);
    await login.goto();
    await login.forgot.click();
    await reset.heading.waitFor();
    await fits('reset-password-number', { docs: true });
    await reset.start(ukMobile().typed);
    await reset.password.fill('short');
    await reset.submit.click();
    await expectText(reset.errorOf('new-password'), /at least 8/);
    await fits('reset-password', { docs: true });

    const register = new RegisterPage(page);
    await register.goto();
    await register.email.fill('not-an-email');
    await register.email.blur();
    await expectText(register.errorOf('email'), /email address/);
    await fits('register-errors');

    const user = await signUp(page);
    const step = new VerificationStep(page);
    await step.waitFor();
    await fits('verify');

    await step.enter(await nthCodeTo(user.phone.e164, 1));
    await expectPath(page, '/dashboard');
    const dashboard = new DashboardPage(page);
    await dashboard.badge('Verified').waitFor();
    assert.ok(await dashboard.sidebar.getByRole('link', { name: 'Phone Number' }).isVisible());
    await fits('dashboard');

    const manage = new PhoneManagementPage(page);
    await dashboard.sidebar.getByRole('link', { name: 'Phone Number' }).click();
    await manage.heading.waitFor();
    await expectText(manage.history, /Verified/);
    await fits('phone-management');

    await manage.delete.click();
    await manage.dialog.waitFor();
    await fits('phone-management-delete');
    await manage.dialog.getByRole('button', { name: 'Cancel' }).click();

    await manage.replace.click();
    await manage.newNumber.waitFor();
    await fits('phone-management-replace');

    await page.goto('/dev/sms');
    await page.getByRole('heading', { name: /SMS inbox/ }).waitFor();
    await fits('dev-sms');

    // Two-step sign-in: the switch, on, the phone it guards, the code at login, off.
    await page.goto('/dashboard/security');
    const security = new SecurityPage(page);
    await security.heading.waitFor();
    await fits('security', { docs: true });
    await security.switch.click();
    await security.turnOnForm.waitFor();
    await fits('security-turn-on', { docs: true });
    await security.password.fill(PASSWORD);
    await security.turnOn.click();
    await until(() => security.isOn(), { what: 'the switch to read on' });

    await dashboard.sidebar.getByRole('link', { name: 'Phone Number' }).click();
    await manage.heading.waitFor();
    await manage.deleteWith(PASSWORD);
    await expectText(page.getByRole('main'), /Two-step sign-in uses this number/);
    await fits('phone-management-delete-two-factor', { docs: true });

    await dashboard.signOut.click();
    await login.heading.waitFor();
    await login.signIn(user.email, user.password);
    await login.twoStepCode.waitFor();
    await fits('login-two-step', { docs: true });
    await login.twoStepCode.type(await nthCodeTo(user.phone.e164, 2));
    await login.twoStepSubmit.click();
    await expectPath(page, '/dashboard');

    await dashboard.sidebar.getByRole('link', { name: 'Security' }).click();
    await security.heading.waitFor();
    await security.switch.click();
    await security.password.fill(PASSWORD);
    await security.sendCode.click();
    await security.code.waitFor();
    await fits('security-turn-off', { docs: true });
    await t.close();
  });
}

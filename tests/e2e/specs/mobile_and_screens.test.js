// Layout at 360 px and 1280 px, with a screenshot of every screen at both widths
// (tests/e2e/artifacts/<screen>-<width>.png).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { nthCodeTo } from '../lib/fake_twilio.js';
import { signUp } from '../lib/flows.js';
import { DESKTOP, MOBILE, expectPath, expectText, fitsViewport, launch, openPage, screenshot } from '../lib/harness.js';
import { DashboardPage } from '../pages/dashboard.js';
import { LoginPage } from '../pages/login.js';
import { PhoneManagementPage } from '../pages/phone_management.js';
import { RegisterPage } from '../pages/register.js';
import { VerificationStep } from '../pages/verification.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

for (const [label, viewport] of [['mobile 360 px', MOBILE], ['desktop 1280 px', DESKTOP]]) {
  test(`every screen fits and works at ${label}`, async () => {
    const t = await openPage(browser, { viewport, isMobile: viewport === MOBILE });
    const { page } = t;
    const fits = async (screen) => {
      assert.ok(await fitsViewport(page), `${screen} scrolls sideways at ${viewport.width} px`);
      await screenshot(page, screen);
    };

    const login = new LoginPage(page);
    await login.goto();
    await fits('login');

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
    await t.close();
  });
}

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { messagesTo, nthCodeTo, nthMessageTo, reportStatus } from '../lib/fake_twilio.js';
import { PASSWORD, signUpVerified } from '../lib/flows.js';
import { expectPath, expectText, launch, openPage, ukMobile, until } from '../lib/harness.js';
import { DashboardPage } from '../pages/dashboard.js';
import { PhoneManagementPage } from '../pages/phone_management.js';
import { VerificationStep } from '../pages/verification.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('the widget leads to the management page with sidebar and breadcrumbs', async () => {
  const t = await openPage(browser);
  const { page } = t;
  await signUpVerified(page);
  const dashboard = new DashboardPage(page);
  await dashboard.manageQuickAction.click();
  await expectPath(page, '/dashboard/phone-management');
  const manage = new PhoneManagementPage(page);
  await manage.heading.waitFor();
  await expectText(manage.breadcrumbs, /Dashboard\s*>\s*Phone Number/);
  assert.equal(await dashboard.sidebar.getByRole('link', { name: 'Phone Number' }).getAttribute('aria-current'), 'page');
  await expectText(manage.status, /Verified/);
  await expectText(manage.lastVerified, /just now|less than a minute ago/);
  await expectText(manage.history, /Verified/);
  await expectText(manage.history, /Code sent/);

  await manage.breadcrumbs.getByRole('link', { name: 'Dashboard' }).click();
  await expectPath(page, '/dashboard');
  await dashboard.button('Manage').click();
  await expectPath(page, '/dashboard/phone-management');
  await t.close();
});

test('replacing a verified number keeps the old one in force until the new one is verified', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const user = await signUpVerified(page);
  const dashboard = new DashboardPage(page);
  await dashboard.button('Update').click();
  await expectPath(page, '/dashboard/phone-management');

  const manage = new PhoneManagementPage(page);
  const next = ukMobile();
  await manage.newNumber.fill(next.international);
  await expectText(page.locator('[id="phone-number-status"]'), /Mobile number/);
  // A verified number is a credential: replacing it needs the password (SPEC §10).
  await manage.replacePassword.fill(PASSWORD);
  await manage.sendToNew.click();

  const step = new VerificationStep(page);
  await step.waitFor();
  await expectText(step.region, new RegExp(next.e164.replace('+', '\\+')));
  // Pending: the old number is still the current one.
  await expectText(manage.current, new RegExp(user.phone.international.replace('+', '\\+')));
  await expectText(manage.status, /Verified/);
  await expectText(manage.status, /Pending change/);

  await step.enter(await nthCodeTo(next.e164, 1));
  await expectText(page.getByRole('main'), /Your phone number is verified/);
  await expectText(manage.current, /\+44 7400/);
  await expectText(manage.current, new RegExp(next.international.replace('+', '\\+')));
  await until(async () => !/Pending change/.test(await manage.status.innerText()), { what: 'pending badge to go' });
  await expectText(manage.history, /Number changed/);
  await t.close();
});

test('deleting asks for confirmation first', async () => {
  const t = await openPage(browser);
  const { page } = t;
  await signUpVerified(page);
  const manage = new PhoneManagementPage(page);
  await manage.goto();

  await manage.delete.click();
  await manage.dialog.waitFor();
  await expectText(manage.dialog, /Delete \+44 7400/);
  // The number is verified: the dialog asks for the password, and starts there.
  assert.ok(await manage.dialogPassword.evaluate((el) => el === document.activeElement), 'focus starts on the password');
  await page.keyboard.press('Escape');
  await manage.dialog.waitFor({ state: 'detached' });
  await expectText(manage.current, /\+44 7400/);

  await manage.deleteWith(PASSWORD);
  await expectText(page.getByRole('main'), /Your phone number was deleted/);
  await expectText(manage.current, /No phone number/);
  await manage.add.waitFor();

  await page.goto('/dashboard');
  await expectText(new DashboardPage(page).widget, /no phone number yet/i);
  await t.close();
});

test('a test SMS shows its delivery status after the signed callback, without a reload', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const user = await signUpVerified(page);
  const manage = new PhoneManagementPage(page);
  await manage.goto();
  const before = (await messagesTo(user.phone.e164)).length;

  await manage.sendTest.click();
  await expectText(manage.testCard, /Test SMS sent/);
  const message = await nthMessageTo(user.phone.e164, before + 1);
  await expectText(manage.testCard, /Last message: (Queued|Sending|Sent)/);

  await reportStatus(message.sid, 'delivered');
  await expectText(manage.testCard, /Last message: Delivered/);
  // The dashboard widget shows the same live status.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
  await expectText(new DashboardPage(page).widget, /Last message: Delivered/);

  // A failure comes with plain guidance for Twilio's error code.
  await page.goBack();
  await manage.heading.waitFor();
  await manage.sendTest.click();
  const failing = await nthMessageTo(user.phone.e164, before + 2);
  await reportStatus(failing.sid, 'undelivered', 30003);
  await expectText(manage.testCard, /Last message: Not delivered/);
  await expectText(manage.testCard, /Error 30003 from twilio \(SMS\)/);
  await expectText(manage.history, /SMS (failed|delivered)/);
  await t.close();
});

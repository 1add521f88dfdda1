// SPEC §12 on /dashboard/security: "Recent activity" lists the account's own events, and
// "Delete account" asks for the password, deletes, signs out and says so; the old
// credentials no longer sign in.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { PASSWORD, signUpVerified } from '../lib/flows.js';
import { expectPath, expectText, fitsViewport, launch, openPage, screenshot, until, MOBILE } from '../lib/harness.js';
import { AccountCards } from '../pages/account_danger.js';
import { LoginPage } from '../pages/login.js';
import { SecurityPage } from '../pages/security.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('recent activity, then delete account behind the password (360 px)', async () => {
  const { page } = await openPage(browser, { viewport: MOBILE, isMobile: true });
  const user = await signUpVerified(page);
  const security = new SecurityPage(page);
  await security.goto();
  const cards = new AccountCards(page);

  // Newest first: the verification, the number added, the account created.
  await until(async () => (await cards.activityItems.count()) >= 3, { what: 'activity listed' });
  const lines = await cards.activityTexts();
  assert.match(lines[0], /Phone number verified/);
  assert.ok(lines.some((l) => /Account created/.test(l)), lines.join(' | '));
  assert.ok(await fitsViewport(page), 'the security page scrolls sideways at 360 px');
  await screenshot(page, 'security-recent-activity', { docs: true });

  // A wrong password is refused in place; the session stays.
  await cards.openDelete.click();
  await cards.password.fill('not the password');
  await cards.deleteNow.click();
  await expectText(cards.confirm.getByRole('alert').filter({ hasText: /\S/ }).first(), /incorrect|password/i);
  await expectPath(page, '/dashboard/security');

  // The right one deletes the account and signs out.
  await cards.password.fill(PASSWORD);
  await cards.deleteNow.click();
  await expectPath(page, '/login');
  const login = new LoginPage(page);
  await expectText(login.notice, /Your account was deleted/);

  // The old credentials no longer sign in.
  await login.email.fill(user.email);
  await login.password.fill(PASSWORD);
  await login.submit.click();
  await expectText(login.alert, /incorrect/);
});

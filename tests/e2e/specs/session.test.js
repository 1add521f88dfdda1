import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { signUpVerified } from '../lib/flows.js';
import { expectPath, expectText, launch, openPage } from '../lib/harness.js';
import { DashboardPage } from '../pages/dashboard.js';
import { LoginPage } from '../pages/login.js';
import { PhoneManagementPage } from '../pages/phone_management.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('sign out, then a protected page sends you to sign in and back', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const user = await signUpVerified(page);
  const dashboard = new DashboardPage(page);

  await dashboard.signOut.click();
  await expectPath(page, '/login');
  await page.reload(); // the refresh cookie is gone too
  await new LoginPage(page).heading.waitFor();

  await page.goto('/dashboard/phone-management');
  await expectPath(page, /^\/login\?next=%2Fdashboard%2Fphone-management$/);
  const login = new LoginPage(page);
  await login.signIn(user.email, 'wrong password');
  await expectText(login.alert, /\S/);

  await login.signIn(user.email, user.password);
  await expectPath(page, '/dashboard/phone-management');
  const manage = new PhoneManagementPage(page);
  await expectText(manage.status, /Verified/);

  // The access token lives in memory only; a reload restores the session from the cookie.
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  assert.ok(!/eyJ/.test(stored), 'no token in web storage');
  await page.reload();
  await expectText(manage.status, /Verified/);
  await t.close();
});

test('a fresh visit and a signed-in reload log no console errors', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const logged = [];
  const failed = [];
  page.on('console', (msg) => { if (msg.type() === 'error') logged.push(msg.text()); });
  page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
  const refreshes = [];
  page.on('request', (r) => { if (r.url().endsWith('/api/v1/auth/refresh')) refreshes.push(r.url()); });

  for (const path of ['/login', '/register']) {
    await page.goto(path);
    await page.getByRole('heading', { level: 1 }).waitFor();
  }
  // No session cookie, so no silent refresh (it could only answer 401).
  assert.deepEqual(refreshes, []);

  await signUpVerified(page);
  await page.reload();
  await new DashboardPage(page).badge('Verified').waitFor();
  assert.equal(refreshes.length, 1, 'the reload restored the session with one refresh');
  assert.deepEqual(failed, []);
  assert.deepEqual(logged, []);
  await t.close();
});

test('the development inbox explains itself when the API has none', async () => {
  const t = await openPage(browser);
  const { page } = t;
  await page.goto('/dev/sms');
  await expectText(page.getByRole('main'), /SMS_PROVIDER=console|No messages yet|To \+/);
  await t.close();
});

test('an unknown address shows a not-found page', async () => {
  const t = await openPage(browser);
  const { page } = t;
  await page.goto('/no/such/page');
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  await t.close();
});

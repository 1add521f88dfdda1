// The development inbox against an API running the console SMS provider: sign up with a
// phone, read the code at /dev/sms, verify.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { signUp } from '../lib/flows.js';
import { expectPath, expectText, launch, openPage, screenshot, until } from '../lib/harness.js';
import { DashboardPage } from '../pages/dashboard.js';
import { VerificationStep } from '../pages/verification.js';

const CONSOLE_URL = process.env.E2E_CONSOLE_BASE_URL;
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('with the console provider the code can be read at /dev/sms', { skip: !CONSOLE_URL && 'E2E_CONSOLE_BASE_URL is not set' }, async () => {
  const t = await openPage(browser, { baseURL: CONSOLE_URL });
  const { page } = t;
  const user = await signUp(page);
  const step = new VerificationStep(page);
  await step.waitFor();

  const inbox = await t.context.newPage();
  await inbox.goto('/dev/sms');
  const message = inbox.getByRole('listitem').filter({ hasText: user.phone.e164 });
  const text = await until(async () => {
    if (!(await message.count())) return false;
    return message.first().innerText();
  }, { what: 'the code in the development inbox' });
  const code = /\b(\d{6})\b/.exec(text)?.[1];
  assert.ok(code, `no code in ${JSON.stringify(text)}`);
  await screenshot(inbox, 'dev-sms-inbox');
  await inbox.close();

  await step.enter(code);
  await expectPath(page, '/dashboard');
  const dashboard = new DashboardPage(page);
  await dashboard.badge('Verified').waitFor();
  // The sidebar offers the inbox when the API has one.
  await expectText(dashboard.sidebar, /SMS inbox/);
  await t.close();
});

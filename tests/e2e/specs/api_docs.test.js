// The API reference at /api/docs (SPEC §14): Swagger UI renders every operation of
// openapi.yaml in the browser under the page's own Content-Security-Policy, with no
// request to another origin and no policy violation.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { BASE_URL, launch, openPage, screenshot } from '../lib/harness.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('the API reference renders openapi.yaml offline, under its CSP', async () => {
  const t = await openPage(browser);
  const { page } = t;
  const elsewhere = [];
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (url.origin !== BASE_URL && url.protocol !== 'data:') elsewhere.push(req.url());
  });
  const violations = [];
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });
  await page.goto('/api/docs');
  await page.getByRole('heading', { name: /^PhoneReg API\b/ }).first().waitFor();
  // One block per operation; the register operation by its path.
  await page.locator('.opblock').first().waitFor();
  const operations = await page.locator('.opblock').count();
  assert.ok(operations >= 30, `only ${operations} operations rendered`);
  const register = page.locator('.opblock', { hasText: '/api/v1/auth/register' }).first();
  await register.locator('.opblock-summary').click();
  await register.getByText(/Request body/).first().waitFor();
  await screenshot(page, 'api-docs');
  // Swagger UI lists what it could not read of the spec in a box of errors and warnings.
  const complaints = await page.locator('.errors-wrapper').allInnerTexts();
  assert.deepEqual(complaints, [], 'Swagger UI could not read all of openapi.yaml');

  assert.deepEqual(violations, [], 'the page broke its Content-Security-Policy');
  assert.deepEqual(elsewhere, [], 'the page asked another origin');
  await t.close();
});

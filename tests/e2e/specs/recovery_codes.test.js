// Recovery codes (SPEC §10) at 360 and 1280 px: shown once after turning two-step sign-in
// on (copy, download), the count left, signing in with one instead of the texted code,
// and a new set (behind the password) that retires the old one.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';

import { PASSWORD, signUpVerified, toCodeStep } from '../lib/flows.js';
import { BASE_URL, DESKTOP, MOBILE, expectPath, expectText, fitsViewport, launch, openPage, screenshot } from '../lib/harness.js';
import { SecurityPage } from '../pages/security.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const CODE = /^[a-z0-9]{4}-[a-z0-9]{4}$/;

for (const [label, viewport] of [['360 px', MOBILE], ['1280 px', DESKTOP]]) {
  test(`recovery codes: shown once, copied, downloaded, counted, used, renewed (${label})`, async () => {
    const t = await openPage(browser, { viewport, isMobile: viewport === MOBILE });
    const { page, context } = t;
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE_URL });
    const fits = async (screen) => {
      assert.ok(await fitsViewport(page), `${screen} scrolls sideways at ${viewport.width} px`);
      await screenshot(page, screen, { docs: true });
    };
    const user = await signUpVerified(page);

    // Turning two-step sign-in on answers with ten codes, shown with "save these now".
    const security = new SecurityPage(page);
    await security.goto();
    assert.equal(await security.recovery.count(), 0, 'no recovery card while two-step sign-in is off');
    await security.switch.click();
    await security.password.fill(PASSWORD);
    await security.turnOn.click();
    await security.freshCodes.waitFor();
    assert.ok(await security.isOn());
    await expectText(security.freshCodes, /only time they are shown/);
    const codes = await security.codes();
    assert.equal(codes.length, 10);
    assert.ok(codes.every((c) => CODE.test(c)), `codes look like abcd-1234: ${codes}`);
    assert.equal(new Set(codes).size, 10);
    assert.ok(await page.getByRole('heading', { name: 'Save these recovery codes now' })
      .evaluate((h) => h === document.activeElement), 'focus moves to the codes');
    await fits('security-recovery-codes');

    // Copy: the clipboard holds every code.
    await security.copyCodes.click();
    await expectText(security.freshCodes.getByRole('status'), /Copied/);
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    for (const code of codes) assert.ok(copied.includes(code), `clipboard has ${code}`);
    assert.match(copied, new RegExp(user.email.replace(/[.+]/g, '\\$&')));

    // Download: a .txt with the same codes.
    const [download] = await Promise.all([page.waitForEvent('download'), security.downloadCodes.click()]);
    assert.equal(download.suggestedFilename(), 'phonereg-recovery-codes.txt');
    const file = await readFile(await download.path(), 'utf8');
    assert.deepEqual(file.trim().split('\n').slice(-10), codes);

    // Dismissed, they are gone for good; the count stays.
    await security.savedCodes.click();
    await security.freshCodes.waitFor({ state: 'detached' });
    await expectText(security.codesLeft, /You have 10 unused recovery codes\./);
    await page.reload();
    await security.heading.waitFor();
    await expectText(security.codesLeft, /10 unused/);
    assert.equal(await security.freshCodes.count(), 0, 'a reload does not show the codes again');
    await fits('security-recovery-count');

    // Login: "Use a recovery code" swaps the six boxes for a text field.
    let login = await toCodeStep(page, user);
    await login.useRecovery.click();
    await login.recoveryCode.waitFor();
    assert.ok(await login.recoveryCode.evaluate((e) => e === document.activeElement), 'focus moves to the field');
    assert.equal(await login.recoveryCode.getAttribute('autocomplete'), 'off');
    assert.notEqual(await login.recoveryCode.getAttribute('inputmode'), 'numeric');
    assert.equal(await login.recoveryCode.getAttribute('type'), 'text');
    assert.equal(await login.twoStepCode.group.count(), 0, 'the code boxes are gone');
    await login.recoveryCode.fill('nope');
    await login.twoStepSubmit.click();
    await expectText(page.locator('[id="recovery-code-error"]'), /recovery code like abcd-1234/);
    await login.recoveryCode.fill('zzzz-9999');
    await login.twoStepSubmit.click();
    await expectText(page.locator('[id="recovery-code-error"]'), /not an unused recovery code/);
    await fits('login-recovery-code');
    // Typed as from paper: upper case and no hyphen are forgiven.
    await login.recoveryCode.fill(codes[0].toUpperCase().replace('-', ''));
    await login.twoStepSubmit.click();
    await expectPath(page, '/dashboard');

    // One used: nine left. A new set needs the password and replaces the old one.
    await security.goto();
    await expectText(security.codesLeft, /You have 9 unused recovery codes\./);
    await security.newSet.click();
    await security.newSetForm.waitFor();
    await security.newSetPassword.fill('not my password');
    await security.makeNewSet.click();
    await expectText(page.locator('[id="recovery-password-error"]'), /incorrect/);
    assert.ok(await security.isOn(), 'a wrong password does not end the session');
    await security.newSetPassword.fill(PASSWORD);
    await security.makeNewSet.click();
    await security.freshCodes.waitFor();
    const renewed = await security.codes();
    assert.equal(renewed.length, 10);
    assert.ok(renewed.every((c) => !codes.includes(c)), 'a new set is new');
    await fits('security-recovery-new-set');
    await security.savedCodes.click();
    await expectText(security.codesLeft, /You have 10 unused recovery codes\./);

    // The old set is dead, the new one works; back and forth between the two inputs.
    login = await toCodeStep(page, user);
    await login.useRecovery.click();
    await login.recoveryCode.fill(codes[1]);
    await login.twoStepSubmit.click();
    await expectText(page.locator('[id="recovery-code-error"]'), /not an unused recovery code/);
    await login.useSmsCode.click();
    await login.twoStepCode.waitFor();
    await login.useRecovery.click();
    await login.recoveryCode.fill(renewed[0]);
    await login.twoStepSubmit.click();
    await expectPath(page, '/dashboard');
    await t.close();
  });
}

// Page object: /dashboard/security — the two-step sign-in switch and its forms, and the
// recovery codes card (a fresh set shown once, the count left, a new set).
import { CodeForm } from './code_form.js';

export class SecurityPage {
  constructor(page) {
    this.page = page;
    this.heading = page.getByRole('heading', { name: 'Security', level: 1 });
    this.breadcrumbs = page.getByRole('navigation', { name: 'Breadcrumb' });
    this.card = page.getByRole('region', { name: 'Two-step sign-in' });
    this.switch = page.getByRole('switch', { name: 'Two-step sign-in' });
    this.flash = page.getByRole('status').filter({ hasText: /\S/ }).first();
    this.turnOnForm = page.getByRole('region', { name: 'Turn on two-step sign-in' });
    this.turnOffForm = page.getByRole('region', { name: 'Turn off two-step sign-in' });
    this.password = page.getByLabel('Password', { exact: true });
    this.turnOn = page.getByRole('button', { name: 'Turn on', exact: true });
    this.turnOff = page.getByRole('button', { name: 'Turn off', exact: true });
    this.sendCode = page.getByRole('button', { name: 'Text me a code' });
    this.code = new CodeForm(page, this.turnOffForm);
    this.alert = page.getByRole('alert').filter({ hasText: /\S/ });
    this.recovery = page.getByRole('region', { name: 'Recovery codes', exact: true });
    this.freshCodes = page.getByRole('region', { name: 'Save these recovery codes now' });
    this.codeList = this.freshCodes.getByRole('list', { name: 'Recovery codes' });
    this.copyCodes = this.freshCodes.getByRole('button', { name: 'Copy codes' });
    this.downloadCodes = this.freshCodes.getByRole('link', { name: 'Download .txt' });
    this.savedCodes = this.freshCodes.getByRole('button', { name: "I've saved them" });
    this.codesLeft = page.locator('[id="codes-left"]');
    this.newSet = page.getByRole('button', { name: 'New set of recovery codes' });
    this.newSetForm = page.getByRole('region', { name: 'New set of recovery codes' });
    this.newSetPassword = this.newSetForm.getByLabel('Password', { exact: true });
    this.makeNewSet = this.newSetForm.getByRole('button', { name: 'Make a new set' });
  }

  /** The codes of the set on screen. */
  async codes() {
    return (await this.codeList.getByRole('listitem').allInnerTexts()).map((c) => c.trim());
  }

  async goto() {
    await this.page.goto('/dashboard/security');
    await this.heading.waitFor();
  }

  async isOn() {
    return (await this.switch.getAttribute('aria-checked')) === 'true';
  }
}

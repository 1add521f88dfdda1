// Page object: /reset-password — the number, then the code with the new password.
import { CodeForm } from './code_form.js';

export class ResetPasswordPage {
  constructor(page) {
    this.page = page;
    this.heading = page.getByRole('heading', { name: 'Reset your password', level: 1 });
    this.country = page.getByLabel('Country');
    this.phone = page.getByLabel('Phone number', { exact: true });
    this.send = page.getByRole('button', { name: 'Text me a code' });
    this.step = page.getByRole('region', { name: 'Choose a new password' });
    this.code = new CodeForm(page, this.step);
    this.password = this.step.getByLabel('New password', { exact: true });
    this.confirm = this.step.getByLabel('Confirm new password');
    this.submit = this.step.getByRole('button', { name: 'Reset password' });
    // Asked for on an account with two-step sign-in on.
    this.recoveryNeeded = page.locator('[id="recovery-needed"]');
    this.recoveryCode = this.step.getByLabel('Recovery code', { exact: true });
  }

  async goto() {
    await this.page.goto('/reset-password');
    await this.heading.waitFor();
  }

  async start(number, country = 'GB') {
    await this.country.selectOption(country);
    await this.phone.fill(number);
    await this.send.click();
    await this.code.waitFor();
  }

  /** The error under a field (its live region, referenced by aria-describedby). */
  errorOf(inputId) {
    return this.page.locator(`[id="${inputId}-error"]`);
  }
}

// Page object: /register (RegisterForm) and its code step.
export class RegisterPage {
  constructor(page) {
    this.page = page;
    this.heading = page.getByRole('heading', { name: 'Create your account' });
    this.fullName = page.getByLabel('Full name');
    this.email = page.getByLabel('Email');
    this.password = page.getByLabel('Password', { exact: true });
    this.confirm = page.getByLabel('Confirm password');
    this.phone = page.getByLabel('Phone (optional)');
    this.country = page.getByLabel('Country');
    this.submit = page.getByRole('button', { name: 'Create account' });
    this.formAlert = page.getByRole('alert').filter({ hasText: /\S/ });
  }

  async goto() {
    await this.page.goto('/register');
    await this.heading.waitFor();
  }

  async fill({ fullName, email, password, confirm = password, phone, country }) {
    await this.fullName.fill(fullName);
    await this.email.fill(email);
    await this.password.fill(password);
    await this.confirm.fill(confirm);
    if (country) await this.country.selectOption(country);
    if (phone) await this.phone.fill(phone);
  }

  async register(details) {
    await this.fill(details);
    await this.submit.click();
  }

  /** The error shown under a field (its live region, referenced by aria-describedby). */
  errorOf(inputId) {
    return this.page.locator(`[id="${inputId}-error"]`);
  }
}

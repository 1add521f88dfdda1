// Page object: /login?method=code — "Sign in with a code": the number, then the code.
import { CodeForm } from './code_form.js';

export class SignInWithCodePage {
  constructor(page) {
    this.page = page;
    this.heading = page.getByRole('heading', { name: 'Sign in with a code', level: 1 });
    this.country = page.getByLabel('Country');
    this.phone = page.getByLabel('Phone number', { exact: true });
    this.send = page.getByRole('button', { name: 'Text me a code' });
    this.withPassword = page.getByRole('link', { name: 'Sign in with your password' });
    this.step = page.getByRole('region', { name: 'Enter your code' });
    this.code = new CodeForm(page, this.step);
    this.submit = this.step.getByRole('button', { name: 'Sign in', exact: true });
    this.otherNumber = this.step.getByRole('button', { name: 'Use a different number' });
  }

  /** Picks the country, types the number and asks for a code. */
  async start(number, country = 'GB') {
    await this.country.selectOption(country);
    await this.phone.fill(number);
    await this.send.click();
    await this.code.waitFor();
  }
}

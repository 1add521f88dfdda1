// Page object: /dashboard (DashboardHome) and the app chrome around signed-in pages.
export class DashboardPage {
  constructor(page) {
    this.page = page;
    this.widget = page.getByRole('region', { name: 'Phone number', exact: true });
    this.manageQuickAction = page.getByRole('button', { name: /Manage Phone Number/ });
    this.sidebar = page.getByRole('navigation', { name: 'Main' });
    this.signOut = page.getByRole('button', { name: 'Sign out' });
  }

  async goto() {
    await this.page.goto('/dashboard');
    await this.widget.waitFor();
  }

  badge(text) {
    return this.widget.getByText(text, { exact: true });
  }

  button(name) {
    return this.widget.getByRole('button', { name, exact: true });
  }
}

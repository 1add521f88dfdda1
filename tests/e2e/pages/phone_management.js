// Page object: /dashboard/phone-management (PhoneManagementPage).
export class PhoneManagementPage {
  constructor(page) {
    this.page = page;
    this.heading = page.getByRole('heading', { name: 'Phone Number', level: 1 });
    this.breadcrumbs = page.getByRole('navigation', { name: 'Breadcrumb' });
    this.current = page.getByRole('region', { name: 'Current phone' });
    this.status = page.getByRole('region', { name: 'Status', exact: true });
    this.lastUpdated = page.getByRole('region', { name: 'Last updated' });
    this.lastVerified = page.getByRole('region', { name: 'Last verified' });
    this.testCard = page.getByRole('region', { name: 'Test message' });
    this.history = page.getByRole('region', { name: 'History' });
    this.replace = page.getByRole('button', { name: 'Replace number' });
    this.delete = page.getByRole('button', { name: 'Delete number' });
    this.add = page.getByRole('button', { name: 'Add phone number' });
    this.sendTest = page.getByRole('button', { name: 'Send test SMS' });
    this.dialog = page.getByRole('alertdialog');
    this.newNumber = page.getByLabel('New phone number');
    this.sendToNew = page.getByRole('button', { name: 'Send code to new number' });
    // Replacing or deleting a verified number asks for the password (SPEC §10).
    this.replacePassword = page.locator('form.phone-form').getByLabel('Current password');
    this.dialogPassword = this.dialog.getByLabel('Current password');
    this.confirmDelete = this.dialog.getByRole('button', { name: 'Delete', exact: true });
  }

  /** The error shown under a field (its live region, referenced by aria-describedby). */
  errorOf(inputId) {
    return this.page.locator(`[id="${inputId}-error"]`);
  }

  /** Opens the delete dialog and confirms with the password. */
  async deleteWith(password) {
    await this.delete.click();
    await this.dialogPassword.fill(password);
    await this.confirmDelete.click();
  }

  async goto() {
    await this.page.goto('/dashboard/phone-management');
    await this.heading.waitFor();
  }
}

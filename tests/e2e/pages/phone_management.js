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
  }

  async goto() {
    await this.page.goto('/dashboard/phone-management');
    await this.heading.waitFor();
  }
}

/**
 * The dashboard end to end, in headless Chromium against the real server
 * (createApp, listening on 127.0.0.1): a visitor uploads a file, the operator
 * signs in, sees that session and its expiry, ends it, and the visitor's next
 * page shows no data. With UPDATE_SCREENSHOTS=1, saves screenshots of the
 * dashboard for the README.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { publicIdOf } from '../../middleware/ids.ts';
import { seedSessions } from '../helpers/seeded-sessions.ts';
import { createTestApp, type ListeningTestApp } from '../helpers/test-app.ts';
import { ADMIN_PASSWORD, ADMIN_USER } from '../helpers/test-settings.ts';

const SCREENSHOT_DIR = new URL('../../docs/screenshots/', import.meta.url);
/** The README's screenshots are rewritten only on request (`UPDATE_SCREENSHOTS=1 npm test`), so a test run leaves the tree clean. */
const UPDATE_SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'];

/** Saves a screenshot for the README, when asked to. */
async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  if (UPDATE_SCREENSHOTS) await page.screenshot({ path: new URL(name, SCREENSHOT_DIR).pathname, fullPage });
}

describe('operator dashboard in a browser', () => {
  let site: ListeningTestApp;
  let baseUrl: string;
  let browser: Browser;
  const pageErrors: string[] = [];

  before(async () => {
    site = await createTestApp('postgres', { listen: true });
    // Other sessions around the visitor's, so the list looks like a real one.
    await seedSessions(site.store, { count: 7, expiresInMs: 4 * 60_000, data: { upload: { fileName: 'report.txt' }, cart: [] } });
    await seedSessions(site.store, { count: 2, expiresInMs: -60_000 });
    await site.sessions.sweeper.sweepNow();
    baseUrl = site.url;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    if (UPDATE_SCREENSHOTS) await mkdir(SCREENSHOT_DIR, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await site?.close();
  });

  /** A page that records console errors and uncaught exceptions (a CSP violation shows up as one). */
  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on('console', (message) => { if (message.type() === 'error') pageErrors.push(message.text()); });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    return page;
  }

  test('a visitor uploads, the operator sees the session with its expiry and ends it, the visitor\'s data is gone', async () => {
    const operator = await newPage();
    await operator.goto(`${baseUrl}/admin`);
    assert.equal(new URL(operator.url()).pathname, '/admin/login', 'signed out: the login page');
    await screenshot(operator, 'admin-login.png');
    await operator.fill('#user', ADMIN_USER);
    await operator.fill('#password', ADMIN_PASSWORD);
    await Promise.all([operator.waitForURL(`${baseUrl}/admin`), operator.click('button:has-text("Sign in")')]);
    await operator.waitForSelector('#feed-status:has-text("live")');

    const visitor = await newPage();
    await visitor.goto(`${baseUrl}/`);
    await visitor.setInputFiles('input[name="textfile"]', { name: 'groceries.txt', mimeType: 'text/plain', buffer: Buffer.from('apples\npears\n<script>alert(1)</script>\n') });
    await Promise.all([visitor.waitForURL(`${baseUrl}/action`), visitor.click('form.upload-form button[type="submit"]')]);
    assert.match(await visitor.textContent('ol.lines') ?? '', /pears/);
    const cookie = (await visitor.context().cookies()).find((c) => c.name === 'sid');
    assert.ok(cookie, 'the visitor has a session cookie');
    const sid = publicIdOf(cookie.value);

    // The feed shows the new session without a reload (server-sent events).
    await operator.waitForSelector(`#event-feed li:has(code[title="${sid}"]) .event-name:has-text("session.created")`);

    await operator.reload();
    const row = operator.locator(`tr[data-session-id="${sid}"]`);
    assert.equal(await row.count(), 1, 'the operator sees the visitor\'s session');
    assert.match(await row.locator('.time-left').textContent() ?? '', /^in (29m|30m)/);
    assert.match(await row.locator('.expiry time').textContent() ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    assert.match(await row.locator('.keys').textContent() ?? '', /upload/);
    assert.doesNotMatch(await operator.content(), /pears/, 'never the values');
    await screenshot(operator, 'admin-sessions.png', true);

    await Promise.all([operator.waitForURL(/done=ended/), row.locator('button:has-text("End")').click()]);
    assert.match(await operator.textContent('.notice-done') ?? '', /^Ended session /);
    assert.equal(await operator.locator(`tr[data-session-id="${sid}"]`).count(), 0);

    await visitor.goto(`${baseUrl}/action`);
    assert.match(await visitor.textContent('h1') ?? '', /Nothing uploaded yet/);
    assert.doesNotMatch(await visitor.content(), /pears/);
  });

  test('ending every session goes through a confirmation page', async () => {
    const operator = await newPage();
    await operator.goto(`${baseUrl}/admin/login`);
    await operator.fill('#user', ADMIN_USER);
    await operator.fill('#password', ADMIN_PASSWORD);
    await Promise.all([operator.waitForURL(`${baseUrl}/admin`), operator.click('button:has-text("Sign in")')]);
    const live = Number(await operator.textContent('.total-main .total-value'));
    assert.ok(live > 0);

    await Promise.all([operator.waitForURL(`${baseUrl}/admin/end-all`), operator.click('a:has-text("End every session")')]);
    assert.match(await operator.textContent('main') ?? '', new RegExp(`all ${live} live sessions`));
    await screenshot(operator, 'admin-confirm.png');
    await Promise.all([operator.waitForURL(/done=ended-all/), operator.click('button:has-text("Yes, end every session")')]);
    assert.match(await operator.textContent('.notice-done') ?? '', new RegExp(`Ended every session: ${live} sessions? removed`));
    assert.equal(await operator.textContent('.total-main .total-value'), '0');

    await Promise.all([operator.waitForURL(/\/admin\/login\?signedOut=1$/), operator.click('button:has-text("Sign out")')]);
    await operator.goto(`${baseUrl}/admin`);
    assert.equal(new URL(operator.url()).pathname, '/admin/login', 'signed out for good');
  });

  test('no page logged a script error or a Content-Security-Policy violation', () => {
    assert.deepEqual(pageErrors, []);
  });
});

/**
 * Owners on the upload site in a real browser (headless Chromium through
 * playwright-core), on a real server, against each store: two browser
 * contexts are two devices of one person. Both sign in with the same name,
 * one signs the other out from "Your sessions", and the other finds itself
 * signed out on its next page while the first stays signed in.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { fitsPhoneWidth } from '../helpers/phone-width.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { createTestApp, type ListeningTestApp } from '../helpers/test-app.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Markup in the name must show as text: if it ran, it would set `window.pwned`. */
const NAME = 'Ada <img src=x onerror="window.pwned = 1"> Lovelace';

/** A device: a browser context of its own (own cookies), one page, and whatever the page reported going wrong. */
interface Device {
  context: BrowserContext;
  page: Page;
  problems: string[];
}

async function openDevice(browser: Browser, userAgent: string): Promise<Device> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 }, userAgent });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  return { context, page, problems };
}


/** Who the header says is signed in, or undefined when it names nobody. */
async function signedInAs(page: Page): Promise<string | undefined> {
  const header = page.locator('.signed-in .visitor-name');
  return (await header.count()) === 0 ? undefined : header.innerText();
}

describe('owners on the upload site in headless Chromium', () => {
  let browser: Browser;
  before(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
  });
  after(async () => {
    await browser?.close();
  });

  for (const kind of STORE_KINDS) {
    describe(`on the ${kind} store`, () => {
      let site: ListeningTestApp;
      let laptop: Device;
      let phone: Device;

      before(async () => {
        // Device facts on, so that the rows tell the two browsers apart as a visitor would see them.
        site = await createTestApp(kind, { sessions: { trackDevice: true }, listen: true });
        laptop = await openDevice(browser, 'E2E-Laptop/1.0');
        phone = await openDevice(browser, 'E2E-Phone/1.0');
      });
      after(async () => {
        await laptop?.context.close();
        await phone?.context.close();
        await site?.close();
      });

      /** Signs `device` in with the name form on the upload page; lands on "Your sessions". */
      async function signIn(device: Device): Promise<void> {
        await device.page.goto(`${site.url}/`);
        assert.equal(await signedInAs(device.page), undefined);
        await device.page.getByLabel('Display name').fill(NAME);
        await Promise.all([device.page.waitForURL(`${site.url}/sessions`), device.page.getByRole('button', { name: 'Sign in' }).click()]);
        assert.equal(await signedInAs(device.page), NAME);
      }

      test('two devices sign in with one name; one signs the other out from "Your sessions"', async () => {
        await signIn(laptop);
        await signIn(phone);
        assert.equal(await laptop.page.evaluate(() => (window as { pwned?: number }).pwned), undefined, 'markup in the name never runs');

        const { page } = laptop;
        await page.goto(`${site.url}/sessions`);
        const rows = page.locator('li.owner-session');
        assert.equal(await rows.count(), 2);
        const thisDevice = page.locator('li.owner-session.this-device');
        assert.equal(await thisDevice.count(), 1);
        assert.match(await thisDevice.innerText(), /E2E-Laptop\/1\.0\s+this device/);
        assert.match(await page.locator('li.owner-session:not(.this-device)').innerText(), /E2E-Phone\/1\.0/);
        assert.equal(await page.locator('li.owner-session img').count(), 0);
        assert.ok(await fitsPhoneWidth(page), '"Your sessions" fits a phone');

        await Promise.all([page.waitForURL(`${site.url}/sessions?ended=1`), page.getByRole('button', { name: 'Sign out of the other sessions' }).click()]);
        assert.match(await page.getByRole('status').innerText(), /Signed out of 1 other session\./);
        assert.equal(await rows.count(), 1);
        assert.equal(await thisDevice.count(), 1);

        await phone.page.reload();
        assert.equal(await signedInAs(phone.page), undefined, 'the phone is signed out');
        assert.match(await phone.page.locator('main').innerText(), /You are not signed in/);
        assert.doesNotMatch(await phone.page.content(), /Lovelace/);

        await page.goto(`${site.url}/`);
        assert.equal(await signedInAs(page), NAME, 'the laptop is still signed in');
        assert.equal(await site.sessions.store.count(Date.now()), 1);
        assert.deepEqual([...laptop.problems, ...phone.problems], []);
      });
    });
  }
});

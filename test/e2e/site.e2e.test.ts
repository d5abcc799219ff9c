/**
 * The upload site in a real browser (headless Chromium through
 * playwright-core), on a real server, against each store: choose a file in
 * the file input, submit, read the lines, forget the session. With
 * UPDATE_SCREENSHOTS=1, the file-store run saves the screenshots the README
 * shows, under docs/screenshots/.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { fitsPhoneWidth } from '../helpers/phone-width.ts';
import { STORE_KINDS } from '../helpers/store-fixtures.ts';
import { createTestApp, type ListeningTestApp } from '../helpers/test-app.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT_DIR = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
/** The README's screenshots are rewritten only on request (`UPDATE_SCREENSHOTS=1 npm test`), so a test run leaves the tree clean. */
const UPDATE_SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';
const UPLOAD_MAX_BYTES = 4096;

/** A file with what a visitor might send: indentation, tabs, a blank line, and markup that must stay text. */
const SAMPLE_LINES = [
  'Packing list for the weekend',
  '  - tent',
  '  - sleeping bag',
  '',
  '\tTabs and  double  spaces stay as they are.',
  '<script>window.pwned = "script"</script>',
  '"><img src=x onerror="window.pwned = \'img\'">',
];


describe('the upload site in headless Chromium', () => {
  let browser: Browser;
  let files: string;
  before(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
    files = await mkdtemp(join(tmpdir(), 'sessionkeeper-e2e-'));
    await writeFile(join(files, 'packing-list.txt'), `${SAMPLE_LINES.join('\r\n')}\r\n`);
    await writeFile(join(files, 'too-large.txt'), 'x'.repeat(UPLOAD_MAX_BYTES + 1));
    await writeFile(join(files, 'photo.txt'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]));
    if (UPDATE_SCREENSHOTS) await mkdir(SCREENSHOT_DIR, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await rm(files, { recursive: true, force: true });
  });

  for (const kind of STORE_KINDS) {
    describe(`on the ${kind} store`, () => {
      let site: ListeningTestApp;
      let baseUrl: string;
      let context: BrowserContext;
      let page: Page;
      /** Problems the page reported: CSP violations, script errors, dialogs. */
      const problems: string[] = [];
      const screenshots = UPDATE_SCREENSHOTS && kind === 'file';

      before(async () => {
        site = await createTestApp(kind, { server: { uploadMaxBytes: UPLOAD_MAX_BYTES }, listen: true });
        baseUrl = site.url;
        context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
        page = await context.newPage();
        page.on('console', (message) => {
          // Chromium reports every 4xx page as a failed load; the tests check those statuses themselves.
          if (message.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) {
            problems.push(`console: ${message.text()}`);
          }
        });
        page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
        page.on('dialog', (dialog) => {
          problems.push(`dialog: ${dialog.message()}`);
          void dialog.dismiss();
        });
      });
      after(async () => {
        await context?.close();
        await site?.close();
      });

      test('upload a file, see its lines as text, forget the session', async () => {
        const home = await page.goto(`${baseUrl}/`);
        assert.equal(home?.status(), 200);
        assert.match(await page.locator('.notice').first().innerText(), /holds no upload yet/);
        // The stylesheet loaded under the CSP: the page background is ours, not the browser's white.
        assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(244, 246, 248)');
        assert.ok(await fitsPhoneWidth(page), 'the upload page fits a phone');
        if (screenshots) await page.screenshot({ path: join(SCREENSHOT_DIR, 'upload-page.png'), fullPage: true });

        await page.locator('input[type="file"][name="textfile"]').setInputFiles(join(files, 'packing-list.txt'));
        await Promise.all([page.waitForURL(`${baseUrl}/action`), page.getByRole('button', { name: 'Upload' }).click()]);
        assert.deepEqual(await page.locator('ol.lines > li').allTextContents(), SAMPLE_LINES);
        assert.equal(await page.locator('h1').innerText(), 'packing-list.txt');
        assert.equal(await page.evaluate(() => (window as { pwned?: string }).pwned), undefined, 'uploaded markup never runs');
        assert.equal(await page.locator('ol.lines img, ol.lines script').count(), 0);
        assert.ok(await fitsPhoneWidth(page), 'the action page fits a phone');
        if (screenshots) await page.screenshot({ path: join(SCREENSHOT_DIR, 'action-page.png'), fullPage: true });

        assert.equal(await site.sessions.store.count(Date.now()), 1);
        await page.goto(`${baseUrl}/`);
        assert.match(await page.locator('.notice-held').innerText(), /This session holds packing-list\.txt: 7 lines/);
        assert.ok(await fitsPhoneWidth(page), 'the upload page with an upload fits a phone');

        await page.goto(`${baseUrl}/action`);
        await Promise.all([page.waitForURL(`${baseUrl}/?forgotten=1`), page.getByRole('button', { name: 'Forget my session' }).click()]);
        assert.match(await page.getByRole('status').innerText(), /Your session has ended and its data has been deleted/);
        assert.equal((await context.cookies()).filter((cookie) => cookie.name === 'sid').length, 0);
        assert.equal(await site.sessions.store.count(Date.now()), 0);

        await page.goto(`${baseUrl}/action`);
        assert.equal(await page.locator('h1').innerText(), 'Nothing uploaded yet');
        assert.equal(await page.locator('ol.lines').count(), 0);
        assert.deepEqual(problems, []);
      });

      test('a file over the limit and a binary file get clear error pages; the upload before them is kept', async () => {
        await page.goto(`${baseUrl}/`);
        await page.locator('#textfile').setInputFiles(join(files, 'packing-list.txt'));
        await Promise.all([page.waitForURL(`${baseUrl}/action`), page.getByRole('button', { name: 'Upload' }).click()]);

        for (const [file, status, heading] of [
          ['too-large.txt', 413, 'File too large'],
          ['photo.txt', 415, 'Not a text file'],
        ] as const) {
          await page.goto(`${baseUrl}/`);
          await page.locator('#textfile').setInputFiles(join(files, file));
          const [response] = await Promise.all([
            page.waitForResponse((res) => res.request().method() === 'POST' && res.url() === `${baseUrl}/`),
            page.getByRole('button', { name: 'Upload and replace' }).click(),
          ]);
          assert.equal(response.status(), status);
          await page.waitForLoadState();
          assert.equal(await page.locator('h1').innerText(), heading);
          assert.equal(await page.locator('.status-code').innerText(), String(status));
          assert.ok(await fitsPhoneWidth(page), 'the error page fits a phone');
          if (screenshots && status === 413) await page.screenshot({ path: join(SCREENSHOT_DIR, 'error-page.png'), fullPage: true });
        }

        await page.goto(`${baseUrl}/action`);
        assert.deepEqual(await page.locator('ol.lines > li').allTextContents(), SAMPLE_LINES);
        assert.deepEqual(problems, []);
      });
    });
  }
});

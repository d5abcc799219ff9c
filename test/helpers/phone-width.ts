/** Layout checks shared by the end-to-end tests in headless Chromium. */
import type { Page } from 'playwright-core';

/** True when the page needs no horizontal scrolling on a small phone (360 CSS pixels wide). */
export async function fitsPhoneWidth(page: Page): Promise<boolean> {
  const size = page.viewportSize()!;
  await page.setViewportSize({ width: 360, height: size.height });
  const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  await page.setViewportSize(size);
  return fits;
}

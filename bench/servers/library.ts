/**
 * The compiled sessionkeeper a benchmark server runs: `SESSIONKEEPER_LIB`
 * (a `dist` directory: the baseline commit's, for the `baseline` cases), or
 * this checkout's `dist/`, which the orchestrator compiles before the first
 * run. Compiled JavaScript, as an app that installs the package runs it: the
 * peers run their published JavaScript too, and tsx's transform (which wraps
 * every named closure in a `__name` call) would tax sessionkeeper alone.
 * Typed by the sources, which the compiled files mirror.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as Config from '../../middleware/config.ts';
import type * as CreateStore from '../../middleware/create-store.ts';
import type * as Adapter from '../../middleware/koa-store-adapter.ts';
import type * as Logger from '../../middleware/logger.ts';
import type * as Sessionkeeper from '../../middleware/sessionkeeper.ts';

const library = process.env.SESSIONKEEPER_LIB ?? fileURLToPath(new URL('../../dist', import.meta.url));
if (!existsSync(`${library}/middleware/sessionkeeper.js`)) {
  throw new Error(`${library} holds no compiled sessionkeeper: run npm run build first (bench/run.ts and bench/profile.ts do)`);
}

export const { resolveConfig } = (await import(`${library}/middleware/config.js`)) as typeof Config;
export const { createStore } = (await import(`${library}/middleware/create-store.js`)) as typeof CreateStore;
export const { createLogger } = (await import(`${library}/middleware/logger.js`)) as typeof Logger;
export const { createSessionkeeper, openSessionkeeper } = (await import(`${library}/middleware/sessionkeeper.js`)) as typeof Sessionkeeper;
/** What the package's entry point exports as `setSessionOwner` (undefined in a baseline commit from before owners). */
export const { setSessionOwner } = (await import(`${library}/middleware/koa-store-adapter.js`)) as typeof Adapter;

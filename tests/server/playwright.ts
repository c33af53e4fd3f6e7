/**
 * `playwright-core` for the browser tests only (kept out of the package's import map, which
 * holds what the library needs): it drives the system's Chromium and never downloads a browser.
 * Loaded only when Chromium is present (see `browser.ts`).
 *
 * @module
 */
export { chromium } from "npm:playwright-core@1.65.1";
export type { BrowserContext, Page } from "npm:playwright-core@1.65.1";

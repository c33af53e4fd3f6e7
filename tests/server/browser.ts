/**
 * Headless Chromium for the dashboard's tests, driven by `npm:playwright-core` with the
 * system's `/usr/bin/chromium` (never a downloaded browser) and a fresh profile per test.
 * Without Chromium the browser tests are skipped with a message, except with
 * `REQUIRE_BROWSER=1` (CI), where they fail.
 *
 * @module
 */
// deno-lint-ignore-file no-console
import type { BrowserContext } from "./playwright.ts";

/** Where Chromium is expected (`apt-get install chromium`). */
export const CHROMIUM = "/usr/bin/chromium";
const present = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();
if (!present) {
  if (Deno.env.get("REQUIRE_BROWSER") === "1") {
    throw new Error(`Cannot run the browser tests: ${CHROMIUM} is missing and REQUIRE_BROWSER=1`);
  }
  console.warn(`Skipping the browser tests: ${CHROMIUM} is missing (apt-get install chromium)`);
}
/** True when the browser tests must be skipped. */
export const NO_BROWSER: boolean = !present;

/** Flags for a quiet, offline headless Chromium. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/**
 * A browser with a fresh profile; dispose it.
 *
 * @param viewport The window size.
 * @returns The browser context and its profile folder.
 */
export async function browser(
  viewport = { width: 1280, height: 900 },
): Promise<{ context: BrowserContext } & AsyncDisposable> {
  const { chromium } = await import("./playwright.ts");
  const profile = await Deno.makeTempDir({ prefix: "graflow-chromium-" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS],
    viewport,
  });
  return {
    context,
    async [Symbol.asyncDispose]() {
      await context.close().catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * The folder for screenshots: `$GRAFLOW_ARTIFACTS` or a temp folder (printed).
 *
 * @returns The folder.
 */
export async function artifacts(): Promise<string> {
  const dir = Deno.env.get("GRAFLOW_ARTIFACTS") ??
    `${Deno.env.get("TMPDIR") ?? "/tmp"}/graflow-dashboard-screenshots`;
  await Deno.mkdir(dir, { recursive: true });
  return dir;
}

/**
 * Polling helper for the handler tests.
 *
 * @module
 */

/**
 * Polls `check` every 10 ms until it returns true.
 *
 * @param check The condition.
 * @param what What is awaited (for the error).
 * @param timeoutMs Give up after this long.
 * @throws {Error} When the condition is still false after `timeoutMs`.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > end) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

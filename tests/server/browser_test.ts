/**
 * The dashboard in headless Chromium against a real server, store and orchestrator: log in, see
 * a new run appear in the runs table without reloading, watch its graph's nodes change colour
 * while it runs, answer an approval in the inbox with the keyboard and see the run complete; on
 * a phone-sized screen nothing overflows sideways. Screenshots are written as artifacts.
 *
 * @module
 */
import assert from "assert";
import type { Page } from "./playwright.ts";
import { artifacts, browser, NO_BROWSER } from "./browser.ts";
import { OPERATOR, startServer, until, VIEWER } from "./server_fixture.ts";

const opts = { ignore: NO_BROWSER, sanitizeOps: false, sanitizeResources: false };

async function logIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/ui/`);
  assert.match(page.url(), /\/ui\/login\?next=/);
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(`${url}/ui/`);
}

Deno.test({
  name: "dashboard: log in, a new run appears live, its graph's nodes change colour while it runs",
  ...opts,
  fn: async () => {
    await using t = await startServer({ orchestrate: { intervalMs: 50 } });
    await using b = await browser();
    const dir = await artifacts();
    const page = await b.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await logIn(page, t.url, VIEWER);
    await page.locator("body[data-live-state='open']").waitFor(); // no eval: the CSP forbids it
    const s = await t.api("/runs", {
      method: "POST",
      json: { flow: "srv_pipeline", input: { delayMs: 500 } },
      token: OPERATOR,
    });
    const runId = (s.body.run as { runId: string }).runId;
    // The row appears without a reload (Server-Sent Events).
    await page.locator(`tr[data-run="${runId}"]`).waitFor({ timeout: 10_000 });
    await page.evaluate("window.marker = 1");
    await page.locator(`tr[data-run="${runId}"] a`).click();
    await page.waitForURL(/\/ui\/runs\//);
    await page.locator("body[data-live-state='open']").waitFor(); // no eval: the CSP forbids it
    await page.evaluate("window.marker = 2");
    // Watch every node: each goes pending → running → succeeded, coloured by its status.
    const seen = new Map<string, string[]>();
    const fills = new Map<string, string>();
    const read = () =>
      page.evaluate(`[...document.querySelectorAll("g[data-node]")].map((g) => ({
        id: g.getAttribute("data-node"),
        status: g.getAttribute("data-status"),
        fill: getComputedStyle(g.querySelector("rect")).fill,
      }))`) as Promise<{ id: string; status: string; fill: string }[]>;
    let shot = false;
    await until(
      async () => {
        const nodes = await read();
        for (const n of nodes) {
          const list = seen.get(n.id) ?? [];
          if (list.at(-1) !== n.status) list.push(n.status);
          seen.set(n.id, list);
          fills.set(n.status, n.fill);
        }
        if (
          !shot && nodes.some((n) => n.status === "running") &&
          nodes.some((n) => n.status === "succeeded")
        ) {
          shot = true;
          await page.screenshot({ path: `${dir}/run-running.png`, fullPage: true });
        }
        return nodes.find((n) => n.id === "srv_publish")?.status === "succeeded";
      },
      "srv_publish to succeed",
      20_000,
    );
    const report = JSON.stringify(Object.fromEntries(seen));
    assert.equal(seen.get("srv_publish")?.[0], "pending", report);
    // At least one node was seen running and then succeeded (while the page stayed open).
    const live = [...seen.values()].filter((l) =>
      l.includes("running") && l.at(-1) === "succeeded"
    );
    assert.ok(live.length >= 1, `no node was seen running, then succeeded: ${report}`);
    for (const list of seen.values()) assert.equal(list.at(-1), "succeeded", report);
    assert.equal(
      new Set([fills.get("pending"), fills.get("running"), fills.get("succeeded")]).size,
      3,
      "pending, running and succeeded have their own colours",
    );
    assert.equal(
      await page.evaluate("window.marker"),
      2,
      "no reload",
    );
    await page.locator("h1 .badge", { hasText: "completed" }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('g[data-node="srv_audit"].node-dynamic').count(), 1);
    assert.equal(await page.locator("svg.timeline a").count(), 8);
    await page.screenshot({ path: `${dir}/run-completed.png`, fullPage: true });
    // A step's details: input and output.
    await page.locator("table a", { hasText: /^1$/ }).first().click();
    await page.waitForURL(/\/steps\/1$/);
    assert.match(await page.locator("main").innerText(), /"delayMs": 500/);
    assert.deepEqual(errors, []);
  },
});

Deno.test({
  name: "inbox: an operator approves with the keyboard, the run completes; readable on a phone",
  ...opts,
  fn: async () => {
    await using t = await startServer({ orchestrate: { intervalMs: 50 } });
    await using b = await browser({ width: 390, height: 844 });
    const dir = await artifacts();
    const page = await b.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await logIn(page, t.url, OPERATOR);
    await page.goto(`${t.url}/ui/inbox`);
    await page.locator("body[data-live-state='open']").waitFor(); // no eval: the CSP forbids it
    const s = await t.api("/runs", { method: "POST", json: { flow: "srv_approval", input: {} } });
    const runId = (s.body.run as { runId: string }).runId;
    // The request appears live.
    const card = page.locator("section[data-feedback]");
    await card.waitFor({ timeout: 10_000 });
    assert.match(await card.innerText(), /Ship order 42\?/);
    const overflow = Number(
      await page.evaluate("document.documentElement.scrollWidth - innerWidth"),
    );
    assert.ok(overflow <= 0, `the inbox overflows a phone screen by ${overflow} px`);
    await page.screenshot({ path: `${dir}/inbox-phone.png`, fullPage: true });
    // Keyboard only: Tab to "Approve", press Enter.
    let found = false;
    for (let i = 0; i < 40 && !found; i++) {
      await page.keyboard.press("Tab");
      found = await page.evaluate(
        "document.activeElement?.textContent?.trim() === 'Approve'",
      ) as boolean;
    }
    assert.ok(found, "Approve is reachable with Tab");
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/ui\/inbox\?done=answered$/);
    await page.getByText("Request answered.").waitFor();
    assert.match(await page.locator("ul.recent").innerText(), /approved\) by ops/);
    await page.goto(`${t.url}/ui/runs/${encodeURIComponent(runId)}`);
    await page.locator("h1 .badge", { hasText: "completed" }).waitFor({ timeout: 10_000 });
    assert.equal(
      await page.locator('g[data-node="srv_ship"]').getAttribute("data-status"),
      "succeeded",
    );
    const record = await t.store.feedback.list({ runId });
    assert.equal(record[0].response?.respondedBy, "ops");
    const runOverflow = Number(
      await page.evaluate("document.documentElement.scrollWidth - innerWidth"),
    );
    assert.ok(runOverflow <= 0, `the run page overflows a phone screen by ${runOverflow} px`);
    await page.screenshot({ path: `${dir}/run-phone.png`, fullPage: true });
    assert.deepEqual(errors, []);
  },
});

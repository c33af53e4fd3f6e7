/**
 * The dashboard's routes under `/ui/`: pages (runs, a run, a step, the inbox, login) and the
 * forms that change state. A form is accepted only from a logged-in operator's session, with
 * the session's CSRF token, from the same origin (checked by the server's middleware); it then
 * redirects (303) back to a local page. Assets are looked up by exact name in a table, so no
 * path (`..`, `%2e%2e`, encoded slashes) can reach a file.
 *
 * @module
 */
import type { Context, Hono } from "hono";
import { FINAL_STATUSES } from "../../store/run_store.ts";
import { answerFeedback, cancelFeedback, listRuns, runDetails, startRun } from "../api.ts";
import { readForm } from "../body.ts";
import { checkId, type Env, type ServerContext } from "../context.ts";
import { HttpError, toHttpError } from "../http_error.ts";
import { SESSION_COOKIE } from "../session.ts";
import { apiFeedback } from "../views.ts";
import { APP_JS, ICON_SVG, STYLE_CSS } from "./assets.ts";
import { type Html, page, type PageInfo } from "./html.ts";
import { inboxPage, loginPage, messagePage } from "./inbox_pages.ts";
import { runPage, runsPage, stepPage } from "./run_pages.ts";

const ASSETS: Record<string, { type: string; body: string }> = {
  "app.js": { type: "text/javascript; charset=utf-8", body: APP_JS },
  "style.css": { type: "text/css; charset=utf-8", body: STYLE_CSS },
  "icon.svg": { type: "image/svg+xml", body: ICON_SVG },
};

/**
 * A local path to go back to (never another origin): `/ui/...` only.
 *
 * @param raw The requested path.
 * @returns It, or `/ui/`.
 */
export function localPath(raw: string | null | undefined): string {
  if (!raw || !/^\/ui\/[A-Za-z0-9_.:~/%?=&#-]*$/.test(raw) || raw.includes("//")) return "/ui/";
  return raw;
}

function htmlResponse(text: string, status = 200, headers: HeadersInit = {}): Response {
  const h = new Headers(headers);
  h.set("content-type", "text/html; charset=utf-8");
  return new Response(text, { status, headers: h });
}

function info(c: Context<Env>, ctx: ServerContext): PageInfo {
  const auth = c.get("auth");
  return {
    principal: auth.principal,
    csrf: auth.cookie ? ctx.sessions.csrf(auth.cookie) : undefined,
    path: new URL(c.req.url).pathname,
  };
}

function redirect(to: string, headers: HeadersInit = {}): Response {
  const h = new Headers(headers);
  h.set("location", to);
  return new Response(null, { status: 303, headers: h });
}

/**
 * Adds the dashboard's routes.
 *
 * @param app The app.
 * @param ctx The server.
 */
export function uiRoutes(app: Hono<Env>, ctx: ServerContext): void {
  const cookieAttrs = `Path=/; HttpOnly; SameSite=Strict${ctx.secureCookies ? "; Secure" : ""}`;

  /** A page for a viewer at least; anonymous people go to the login form. */
  const view = (
    title: string,
    build: (c: Context<Env>, i: PageInfo) => Promise<Html>,
    live?: (c: Context<Env>) => string,
  ) =>
  async (c: Context<Env>) => {
    const i = info(c, ctx);
    if (!i.principal) {
      const u = new URL(c.req.url);
      return redirect(`/ui/login?next=${encodeURIComponent(localPath(u.pathname + u.search))}`);
    }
    try {
      return htmlResponse(page(i, title, await build(c, i), live?.(c)));
    } catch (error) {
      const e = toHttpError(error);
      return htmlResponse(page(i, "Error", messagePage(e.status, e.message)), e.status);
    }
  };

  /** A form that changes state: operator session + CSRF token; then back to a local page. */
  const act = (
    run: (
      c: Context<Env>,
      form: URLSearchParams,
      by: string,
    ) => Promise<string | { to: string; headers: HeadersInit }>,
  ) =>
  async (c: Context<Env>) => {
    const i = info(c, ctx);
    const auth = c.get("auth");
    try {
      const form = await readForm(c.req.raw, ctx.maxBodyBytes);
      if (!auth.principal) throw new HttpError(401, "UNAUTHORIZED", "Cannot do that: log in first");
      if (!auth.cookie || !ctx.sessions.checkCsrf(auth.cookie, form.get("_csrf") ?? undefined)) {
        throw new HttpError(
          403,
          "CSRF",
          "Cannot do that: the form's CSRF token is missing or wrong (reload the page)",
        );
      }
      if (auth.principal.role !== "operator") {
        throw new HttpError(
          403,
          "FORBIDDEN",
          `Cannot do that: it needs an operator token; "${auth.principal.name}" is a viewer`,
        );
      }
      const to = await run(c, form, auth.principal.name);
      return typeof to === "string" ? redirect(to) : redirect(to.to, to.headers);
    } catch (error) {
      const e = toHttpError(error);
      return htmlResponse(page(i, "Error", messagePage(e.status, e.message)), e.status);
    }
  };

  app.get("/", () => redirect("/ui/"));
  app.get("/favicon.ico", () => redirect("/ui/assets/icon.svg"));
  app.get("/ui", () => redirect("/ui/"));
  app.get("/ui/assets/:name", (c) => {
    const a = Object.hasOwn(ASSETS, c.req.param("name")) ? ASSETS[c.req.param("name")] : undefined;
    if (!a) throw new HttpError(404, "NOT_FOUND", "Cannot find that asset");
    return new Response(a.body, {
      headers: { "content-type": a.type, "cache-control": "no-cache" },
    });
  });

  app.get("/ui/login", (c) => {
    const next = localPath(new URL(c.req.url).searchParams.get("next"));
    return htmlResponse(page({ path: "/ui/login" }, "Log in", loginPage(next)));
  });
  app.post("/ui/login", async (c) => {
    const form = await readForm(c.req.raw, ctx.maxBodyBytes);
    const next = localPath(form.get("next"));
    const who = ctx.tokens.lookup(form.get("token") ?? "");
    if (!who) {
      return htmlResponse(
        page({ path: "/ui/login" }, "Log in", loginPage(next, "That token is not valid.")),
        401,
      );
    }
    const value = ctx.sessions.issue(who.name);
    return redirect(next, {
      "set-cookie":
        `${SESSION_COOKIE}=${value}; ${cookieAttrs}; Max-Age=${ctx.sessions.maxAgeSeconds}`,
    });
  });
  app.post(
    "/ui/logout",
    act(async () => ({
      to: "/ui/login",
      headers: { "set-cookie": `${SESSION_COOKIE}=; ${cookieAttrs}; Max-Age=0` },
    })),
  );

  app.get(
    "/ui/",
    view("Runs", async (c, i) => {
      const q = new URL(c.req.url).searchParams;
      for (const k of [...q.keys()]) if (q.get(k) === "") q.delete(k);
      const data = await listRuns(ctx, q);
      return runsPage(i, data, {
        status: q.get("status") ?? undefined,
        flow: q.get("flow") ?? undefined,
      }, ctx.startable());
    }, () => "/runs/events"),
  );
  app.get(
    "/ui/runs/:id",
    view("Run", async (c, i) => {
      const { _view, ...d } = await runDetails(ctx, checkId(c.req.param("id")!, "run"));
      return runPage(i, { ...d, steps: _view.steps });
    }, (c) => `/runs/${encodeURIComponent(c.req.param("id")!)}/events`),
  );
  app.get(
    "/ui/runs/:id/steps/:step",
    view("Step", async (c) => {
      const runId = checkId(c.req.param("id")!, "run");
      const n = Number(c.req.param("step")!);
      const { _view } = await runDetails(ctx, runId);
      const step = _view.steps.find((s) => s.step === n);
      if (!step) {
        throw new HttpError(
          404,
          "STEP_NOT_FOUND",
          `Cannot find step ${c.req.param("step")!} of run "${runId}"`,
        );
      }
      return stepPage(runId, step, _view.attempts.filter((a) => a.step === n), _view.graphNote);
    }),
  );
  app.get(
    "/ui/inbox",
    view("Inbox", async (c, i) => {
      const all = (await ctx.store.feedback.list({ limit: 200 })).map(apiFeedback);
      const done = new URL(c.req.url).searchParams.get("done");
      return inboxPage(
        i,
        all.filter((f) => f.state === "pending"),
        all.filter((f) => f.state !== "pending").slice(0, 20),
        done === "answered" || done === "cancelled" ? done : undefined,
      );
    }, () => "/runs/events"),
  );

  app.post(
    "/ui/runs",
    act(async (_c, form) => {
      let input: unknown = null;
      const text = form.get("input")?.trim();
      if (text) {
        try {
          input = JSON.parse(text);
        } catch (error) {
          throw new HttpError(
            400,
            "BAD_JSON",
            `Cannot start a run: the input is not JSON (${(error as Error).message})`,
          );
        }
      }
      const key = form.get("idempotencyKey")?.trim();
      const { run } = await startRun(ctx, {
        flow: form.get("flow") ?? "",
        input,
        ...(key ? { idempotencyKey: key } : {}),
      });
      return `/ui/runs/${encodeURIComponent(run.runId)}`;
    }),
  );
  app.post(
    "/ui/runs/:id/cancel",
    act(async (c) => {
      const runId = checkId(c.req.param("id")!, "run");
      await ctx.store.cancel(runId);
      return `/ui/runs/${encodeURIComponent(runId)}`;
    }),
  );
  app.post(
    "/ui/runs/:id/retry",
    act(async (c) => {
      const runId = checkId(c.req.param("id")!, "run");
      const r = await ctx.store.get(runId);
      if (r && FINAL_STATUSES.includes(r.status) && r.status !== "failed") {
        throw new HttpError(
          409,
          "RUN_NOT_FAILED",
          `Cannot retry run "${runId}": it is ${r.status}`,
        );
      }
      await ctx.store.retry(runId);
      return `/ui/runs/${encodeURIComponent(runId)}`;
    }),
  );
  app.post(
    "/ui/feedback/:id/answer",
    act(async (c, form, by) => {
      const id = checkId(c.req.param("id")!, "feedback request");
      const answer: Record<string, unknown> = {};
      if (form.has("approved")) answer.approved = form.get("approved") === "true";
      if (form.has("text")) answer.text = form.get("text");
      if (form.has("selected")) answer.selected = form.get("selected");
      await answerFeedback(ctx, id, answer, by);
      const back = localPath(form.get("back"));
      return back === "/ui/inbox" ? "/ui/inbox?done=answered" : back;
    }),
  );
  app.post(
    "/ui/feedback/:id/cancel",
    act(async (c, form, by) => {
      const id = checkId(c.req.param("id")!, "feedback request");
      await cancelFeedback(ctx, id, form.get("reason") || undefined, by);
      const back = localPath(form.get("back"));
      return back === "/ui/inbox" ? "/ui/inbox?done=cancelled" : back;
    }),
  );
}

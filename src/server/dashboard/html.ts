/**
 * The dashboard's page frame and HTML helpers: every text goes through
 * {@linkcode escapeHtml}; pages load one script and one stylesheet from the server itself
 * (`/ui/assets/`), allowed by a Content-Security-Policy that forbids inline scripts and styles
 * and every other origin.
 *
 * @module
 */
import type { Principal } from "../tokens.ts";

/**
 * Escapes text for HTML and XML (element content and quoted attributes).
 *
 * @param value Any value (turned into text).
 * @returns Safe text.
 */
export function escapeHtml(value: unknown): string {
  return String(value ?? "").replace(
    /[&<>"']/g,
    (c) =>
      c === "&"
        ? "&amp;"
        : c === "<"
        ? "&lt;"
        : c === ">"
        ? "&gt;"
        : c === '"'
        ? "&quot;"
        : "&#39;",
  );
}

/** Marks text as HTML already escaped. */
export interface Html {
  /** The HTML. */
  readonly html: string;
}

/**
 * A tagged template that escapes every interpolated value except {@linkcode Html} (and arrays
 * of them).
 *
 * @param strings The literal parts.
 * @param values The values.
 * @returns The HTML.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1];
  });
  return { html: out };
}

function render(v: unknown): string {
  if (v === undefined || v === null || v === false) return "";
  if (Array.isArray(v)) return v.map(render).join("");
  if (typeof v === "object" && v !== null && "html" in v) return (v as Html).html;
  return escapeHtml(v);
}

/**
 * Trusted markup (made by this server, e.g. the graph's SVG).
 *
 * @param markup The markup.
 * @returns It, marked.
 */
export function raw(markup: string): Html {
  return { html: markup };
}

/** What every page knows about its request. */
export interface PageInfo {
  /** Who is logged in. */
  principal?: Principal;
  /** The session's CSRF token (forms carry it). */
  csrf?: string;
  /** The path of the page (for the active link). */
  path: string;
}

/**
 * A hidden CSRF field.
 *
 * @param info The page.
 * @returns The field.
 */
export function csrfField(info: PageInfo): Html {
  return html`<input type="hidden" name="_csrf" value="${info.csrf ?? ""}">`;
}

/**
 * A whole page.
 *
 * @param info The request.
 * @param title The title.
 * @param body The main content.
 * @param live The SSE stream that keeps the page up to date, if any.
 * @returns The HTML document.
 */
export function page(info: PageInfo, title: string, body: Html, live?: string): string {
  const nav = info.principal
    ? html`
      <nav
        aria-label="Main"><a href="/ui/" ${info.path === "/ui/"
          ? raw('aria-current="page"')
          : ""}>Runs</a><a href="/ui/inbox" ${info.path === "/ui/inbox"
          ? raw('aria-current="page"')
          : ""}>Inbox</a></nav>
      <form method="post" action="/ui/logout"
        class="who">${csrfField(info)}<span>${info.principal.name} · ${info.principal
          .role}</span> <button type="submit" class="link">Log out</button></form>
    `
    : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Graflow</title>
<link rel="stylesheet" href="/ui/assets/style.css">
<link rel="icon" href="/ui/assets/icon.svg" type="image/svg+xml">
<script type="module" src="/ui/assets/app.js"></script>
</head>
<body${live ? ` data-live="${escapeHtml(live)}"` : ""}>
<a class="skip" href="#main">Skip to content</a>
<header><a class="brand" href="/ui/">Graflow</a>${
    html`${nav}`.html
  }<span id="live" class="live" role="status" aria-live="polite"></span></header>
<main id="main" tabindex="-1">${body.html}</main>
</body>
</html>`;
}

/**
 * A duration for people.
 *
 * @param ms Milliseconds.
 * @returns Text such as `1.2 s`.
 */
export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/**
 * A time for people (UTC, to the second), in a `<time>` element.
 *
 * @param iso ISO time.
 * @returns The element.
 */
export function time(iso: string | undefined): Html {
  if (!iso) return html`–`;
  return html`<time datetime="${iso}">${iso.replace("T", " ").slice(0, 19)}</time>`;
}

/**
 * A status badge.
 *
 * @param status The status.
 * @returns The badge.
 */
export function badge(status: string): Html {
  return html`<span class="badge status-${status}">${status}</span>`;
}

/**
 * A JSON value, pretty-printed and cut at `max` characters.
 *
 * @param value The value.
 * @param max Longest text shown.
 * @returns A `<pre>` element.
 */
export function jsonBlock(value: unknown, max = 20_000): Html {
  let text = value === undefined ? "(none)" : JSON.stringify(value, null, 2) ?? "(none)";
  if (text.length > max) text = `${text.slice(0, max)}\n… (${text.length - max} more characters)`;
  return html`<pre class="json">${text}</pre>`;
}

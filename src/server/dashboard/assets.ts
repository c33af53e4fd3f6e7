/**
 * The dashboard's stylesheet and script, shipped inside the package as strings (no CDN, no
 * network, nothing to build). The script keeps pages live: it listens to the page's
 * Server-Sent Events stream and, after changes, fetches the page again and swaps its `<main>`
 * (keeping open `<details>`, and waiting while someone is typing in a form).
 *
 * @module
 */

/** The stylesheet. */
export const STYLE_CSS = `
:root { --fg:#1d2330; --muted:#5b6475; --bg:#f6f7f9; --card:#fff; --line:#d8dce3; --accent:#2457c5;
  --ok:#1f8a4c; --bad:#c62828; --run:#1e6fd9; --warn:#c77700; --wait:#7b3fb8; --pend:#9aa3b2; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; flex-wrap:wrap; gap:.5rem 1rem; align-items:center; padding:.6rem 1rem; background:#1d2330; color:#fff; }
header a { color:#fff; text-decoration:none; }
header nav { display:flex; gap:1rem; }
header nav a[aria-current=page] { text-decoration:underline; text-underline-offset:4px; }
.brand { font-weight:700; letter-spacing:.02em; }
.who { margin-left:auto; display:flex; gap:.5rem; align-items:center; font-size:.9em; }
.live { font-size:.8em; color:#b9c3d6; }
main { padding:1rem; max-width:1200px; margin:0 auto; }
main:focus { outline:none; }
h1 { font-size:1.4rem; margin:.4rem 0 1rem; word-break:break-all; }
h2 { font-size:1.1rem; margin:1.4rem 0 .6rem; }
a { color:var(--accent); }
:focus-visible { outline:3px solid #f5b700; outline-offset:2px; }
.skip { position:absolute; left:-999px; } .skip:focus { left:1rem; top:.5rem; background:#fff; color:#000; padding:.3rem .6rem; z-index:9; }
.sr { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); }
.scroll { overflow-x:auto; -webkit-overflow-scrolling:touch; }
table { border-collapse:collapse; width:100%; background:var(--card); }
th, td { text-align:left; padding:.45rem .6rem; border-bottom:1px solid var(--line); white-space:nowrap; }
td:first-child a { font-family:ui-monospace, monospace; font-size:.9em; }
.badge { display:inline-block; padding:.05rem .5rem; border-radius:1rem; font-size:.8em; background:#e8ebf0; color:#333; }
.status-completed, .status-succeeded, .status-answered { background:#dff3e7; color:#145c33; }
.status-failed, .status-cancelled { background:#fbe1e1; color:#8e1b1b; }
.status-running { background:#dde9fb; color:#134a94; }
.status-retried, .status-retrying { background:#fff0d6; color:#7a4a00; }
.status-waiting, .status-pending { background:#efe3fa; color:#53297f; }
.status-queued, .status-terminated { background:#eceff3; color:#3d4452; }
form.filters, .start form { display:flex; flex-wrap:wrap; gap:.6rem 1rem; align-items:end; margin:0 0 1rem; }
label { display:flex; flex-direction:column; gap:.2rem; font-size:.9em; color:var(--muted); }
input, select, textarea, button { font:inherit; }
input, select, textarea { padding:.4rem .5rem; border:1px solid #aab2bf; border-radius:6px; background:#fff; color:var(--fg); min-width:12rem; }
textarea { width:100%; font-family:ui-monospace, monospace; }
button { padding:.45rem .9rem; border-radius:6px; border:1px solid var(--accent); background:var(--accent); color:#fff; cursor:pointer; min-height:2.4rem; }
button.ok { background:var(--ok); border-color:var(--ok); }
button.danger { background:#fff; color:var(--bad); border-color:var(--bad); }
button.link { background:none; border:none; color:#fff; text-decoration:underline; padding:0; min-height:0; }
.actions { display:flex; gap:.6rem; flex-wrap:wrap; margin:.6rem 0; }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:.2rem 1rem; margin:0 0 1rem; }
dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:.8rem 1rem; margin:0 0 1rem; }
.card h3 { margin:.1rem 0 .4rem; font-size:1.05rem; }
.meta { color:var(--muted); font-size:.9em; }
.buttons { display:flex; gap:.6rem; flex-wrap:wrap; margin-top:.6rem; }
fieldset { border:1px solid var(--line); border-radius:8px; }
label.choice { flex-direction:row; align-items:center; gap:.4rem; color:var(--fg); font-size:1em; padding:.2rem 0; }
label.choice input { min-width:0; }
.flash { background:#dff3e7; padding:.5rem .8rem; border-radius:6px; }
.error { color:var(--bad); } .note { color:var(--muted); } li.bad { color:var(--bad); }
pre { background:#fff; border:1px solid var(--line); border-radius:6px; padding:.6rem; overflow:auto; max-height:28rem; font-size:.85em; }
.causes { padding-left:1.2rem; }
figure.graph-box { margin:0; overflow:auto; background:#fff; border:1px solid var(--line); border-radius:8px; padding:.5rem; }
svg.graph { max-width:none; font:12px system-ui, sans-serif; }
svg.graph .node rect { fill:#fff; stroke:var(--pend); stroke-width:2; }
svg.graph .node text { fill:var(--fg); }
svg.graph .node-running rect { fill:#dde9fb; stroke:var(--run); }
svg.graph .node-retrying rect { fill:#fff0d6; stroke:var(--warn); }
svg.graph .node-waiting rect { fill:#efe3fa; stroke:var(--wait); }
svg.graph .node-succeeded rect { fill:#dff3e7; stroke:var(--ok); }
svg.graph .node-failed rect { fill:#fbe1e1; stroke:var(--bad); }
svg.graph .node-pending text { fill:var(--muted); }
svg.graph .node-dynamic rect { stroke-dasharray:5 3; }
svg.graph .group rect { fill:#f1f3f7; stroke:#b8c0cc; stroke-dasharray:4 3; }
svg.graph .group text { fill:var(--muted); font-size:11px; }
svg.graph .edge path { fill:none; stroke:#7d8696; stroke-width:1.5; }
svg.graph .edge-untaken path { stroke:#c5cad3; }
svg.graph .edge-back path, svg.graph .edge-iterate path { stroke:var(--warn); stroke-dasharray:5 3; }
svg.graph .edge-next path, svg.graph .edge-goto path { stroke:var(--wait); }
svg.graph .edge text { fill:var(--muted); font-size:10px; }
svg.graph marker path { fill:#7d8696; }
@media (prefers-reduced-motion: no-preference) { svg.graph .node-running rect { animation:pulse 1.2s ease-in-out infinite; } }
@keyframes pulse { 50% { stroke-width:4; } }
.legend { display:flex; flex-wrap:wrap; gap:.4rem; font-size:.8em; }
.legend .key { border:2px solid var(--pend); border-radius:4px; padding:0 .4rem; background:#fff; }
.legend .node-running { border-color:var(--run); } .legend .node-retrying { border-color:var(--warn); }
.legend .node-waiting { border-color:var(--wait); } .legend .node-succeeded { border-color:var(--ok); }
.legend .node-failed { border-color:var(--bad); } .legend .node-dynamic { border-style:dashed; }
svg.timeline { font:11px system-ui, sans-serif; background:#fff; border:1px solid var(--line); border-radius:8px; }
svg.timeline text { fill:var(--fg); } svg.timeline .axis { fill:var(--muted); }
svg.timeline .bar { fill:var(--pend); } svg.timeline .bar-running { fill:var(--run); }
svg.timeline .bar-succeeded { fill:var(--ok); } svg.timeline .bar-failed { fill:var(--bad); }
svg.timeline .bar-retried { fill:var(--warn); }
form.login { display:flex; flex-direction:column; gap:.6rem; max-width:22rem; }
@media (max-width: 640px) {
  main { padding:.6rem; } h1 { font-size:1.2rem; }
  th, td { padding:.4rem; }
  input, select, textarea { min-width:0; width:100%; }
  form.filters label { flex:1 1 40%; }
  dl.facts { grid-template-columns:1fr; } dl.facts dd { margin-bottom:.4rem; }
  .who { margin-left:0; }
}
`;

/** The script (an ES module; no inline scripts anywhere, so the CSP forbids them). */
export const APP_JS = `
const body = document.body;
const url = body.dataset.live;
const live = document.getElementById("live");
let timer = 0, busy = false, again = false, dirty = false, last = 0;
document.addEventListener("input", (e) => { if (e.target.closest("main form")) dirty = true; });
document.addEventListener("submit", () => { dirty = false; });
// Someone is filling in or about to press a form control: do not swap the page under them.
function typing() {
  const a = document.activeElement;
  return dirty || !!(a && a.closest("main form"));
}
const FOCUSABLE = "a[href], button, input, select, textarea, summary";
async function refresh() {
  if (busy) { again = true; return; }
  if (typing()) { again = true; return; }
  busy = true; last = Date.now();
  try {
    const res = await fetch(location.href, { headers: { accept: "text/html" }, credentials: "same-origin" });
    if (res.redirected && new URL(res.url).pathname === "/ui/login") { location.href = res.url; return; }
    if (!res.ok) return;
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const next = doc.querySelector("main");
    const main = document.querySelector("main");
    if (!next || !main || typing()) { again = true; return; }
    const open = new Set([...main.querySelectorAll("details[open]")].map((d) => d.closest("[id]")?.id + "|" + d.querySelector("summary")?.textContent));
    const all = [...main.querySelectorAll(FOCUSABLE)];
    const at = all.indexOf(document.activeElement);
    main.innerHTML = next.innerHTML;
    for (const d of main.querySelectorAll("details")) {
      if (open.has(d.closest("[id]")?.id + "|" + d.querySelector("summary")?.textContent)) d.open = true;
    }
    if (at >= 0) main.querySelectorAll(FOCUSABLE)[at]?.focus();
    body.dispatchEvent(new CustomEvent("graflow:refreshed"));
  } catch { /* offline for a moment: the next event tries again */ }
  finally {
    busy = false;
    if (again) { again = false; schedule(); }
  }
}
function schedule() {
  clearTimeout(timer);
  const wait = Math.max(150, 400 - (Date.now() - last));
  timer = setTimeout(refresh, wait);
}
document.addEventListener("focusout", () => { if (again && !dirty) setTimeout(() => { if (!typing()) schedule(); }, 50); });
if (url && "EventSource" in window) {
  let opened = false;
  const source = new EventSource(url);
  const onEvent = (e) => {
    body.dataset.lastEvent = e.type;
    schedule();
  };
  for (const name of ["run", "journal", "feedback", "notification"]) source.addEventListener(name, onEvent);
  source.addEventListener("open", () => {
    if (live) live.textContent = "live";
    body.dataset.liveState = "open";
    if (opened) schedule();
    opened = true;
  });
  source.addEventListener("error", () => {
    if (live) live.textContent = "reconnecting…";
    body.dataset.liveState = "error";
  });
}
`;

/** The icon: three nodes and two edges. */
export const ICON_SVG =
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1d2330"/><path d="M9 10L16 22L23 10" stroke="#8fb3ff" stroke-width="2.5" fill="none"/><circle cx="9" cy="10" r="4" fill="#dff3e7"/><circle cx="23" cy="10" r="4" fill="#dde9fb"/><circle cx="16" cy="22" r="4" fill="#efe3fa"/></svg>`;

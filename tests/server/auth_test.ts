/**
 * Attacks on the server: no token, wrong scheme, unknown token, viewer on every state change,
 * tokens in URLs, forged and edited session cookies, missing CSRF tokens, other origins, path
 * traversal into assets, header injection through ids and redirects, open redirects, oversized
 * bodies; and no token ever appears in the server's log.
 *
 * @module
 */
import assert from "assert";
import { OPERATOR, startServer, VIEWER } from "./server_fixture.ts";

const MUTATIONS: [string, unknown][] = [
  ["/runs", { flow: "srv_pipeline" }],
  ["/runs/r1/cancel", {}],
  ["/runs/r1/retry", {}],
  ["/feedback/f1/answer", { approved: true }],
  ["/feedback/f1/cancel", {}],
];
const READS = [
  "/runs",
  "/runs/r1",
  "/runs/r1/steps/1",
  "/runs/r1/graph.svg",
  "/runs/events",
  "/feedback",
  "/feedback/f1",
  "/flows",
  "/notifications",
];

async function raw(url: string, request: string): Promise<string> {
  const u = new URL(url);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  await conn.write(new TextEncoder().encode(request));
  let text = "";
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
    if (/\r\n\r\n/.test(text) && /content-length: (\d+)/i.test(text)) {
      const len = Number(/content-length: (\d+)/i.exec(text)![1]);
      if (text.length >= text.indexOf("\r\n\r\n") + 4 + len) break;
    }
  }
  conn.close();
  return text;
}

async function login(url: string, token: string): Promise<string> {
  const res = await fetch(`${url}/ui/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token, next: "/ui/inbox" }),
    redirect: "manual",
  });
  await res.body?.cancel();
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/ui/inbox");
  const cookie = res.headers.get("set-cookie")!;
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.ok(!cookie.includes(token), "the cookie does not hold the token");
  return cookie.split(";")[0];
}

Deno.test("no token is 401 on every endpoint but /health and /openapi.json; a viewer gets 403 on every state change", async () => {
  await using t = await startServer();
  for (const path of READS) {
    const r = await t.api(path, { token: null });
    assert.equal(r.status, 401, path);
    assert.equal(r.body.code, "UNAUTHORIZED");
    assert.equal(r.headers.get("www-authenticate"), 'Bearer realm="graflow"');
  }
  for (const [path, json] of MUTATIONS) {
    assert.equal((await t.api(path, { method: "POST", json, token: null })).status, 401, path);
    const v = await t.api(path, { method: "POST", json, token: VIEWER });
    assert.equal(v.status, 403, path);
    assert.equal(v.body.code, "FORBIDDEN");
  }
  assert.equal((await t.api("/runs", { token: "x".repeat(30) })).status, 401);
  const basic = await fetch(`${t.url}/runs`, {
    headers: { authorization: `Basic ${btoa(`ops:${OPERATOR}`)}` },
  });
  assert.equal(basic.status, 401);
  assert.match((await basic.json()).message, /Bearer/);
  for (const q of [`token=${OPERATOR}`, `access_token=${OPERATOR}`, "api_key=x"]) {
    const r = await t.api(`/runs?${q}`, { token: null });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, "TOKEN_IN_URL");
  }
});

Deno.test("session cookies: forged, edited or expired cookies are refused; state changes need the CSRF token and the same origin", async () => {
  await using t = await startServer({ sessionTtlMs: 60_000 });
  const op = await login(t.url, OPERATOR);
  const viewer = await login(t.url, VIEWER);
  const get = (cookie: string, path = "/runs") => fetch(`${t.url}${path}`, { headers: { cookie } });
  const ok = await get(op);
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  const [name, value] = op.split("=");
  const [who, exp, sig] = value.split(".");
  const forged = [
    `${name}=${who}.${exp}.${sig.slice(0, -2)}AA`,
    `${name}=${who}.${Number(exp) + 3600}.${sig}`,
    `${name}=ops.${viewer.split("=")[1].split(".").slice(1).join(".")}`,
    `${name}=ops.${exp}`,
    `${name}=${"a".repeat(400)}`,
  ];
  for (const c of forged) {
    const r = await get(c);
    assert.equal(r.status, 401, c);
    await r.body?.cancel();
    const page = await fetch(`${t.url}/ui/`, { headers: { cookie: c }, redirect: "manual" });
    assert.equal(page.status, 303, c);
    assert.match(page.headers.get("location")!, /^\/ui\/login/);
    await page.body?.cancel();
  }
  // The JSON API with a cookie: state changes need X-CSRF-Token.
  const cancel = await fetch(`${t.url}/runs/r1/cancel`, {
    method: "POST",
    headers: { cookie: op },
  });
  assert.equal(cancel.status, 403);
  assert.equal((await cancel.json()).code, "CSRF");
  // Forms: the CSRF field, an operator, the same origin.
  const html = await (await get(op, "/ui/")).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1];
  const withCsrf = await fetch(`${t.url}/runs/r1/cancel`, {
    method: "POST",
    headers: { cookie: op, "x-csrf-token": csrf },
  });
  assert.equal(withCsrf.status, 404, "past the gate: the run does not exist");
  await withCsrf.body?.cancel();
  const form = (
    cookie: string,
    body: Record<string, string>,
    headers: Record<string, string> = {},
  ) =>
    fetch(`${t.url}/ui/runs`, {
      method: "POST",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(body),
      redirect: "manual",
    });
  const cases: [Response, number, RegExp][] = [
    [await form(op, { flow: "srv_pipeline" }), 403, /CSRF token/],
    [await form(op, { flow: "srv_pipeline", _csrf: csrf + "x" }), 403, /CSRF token/],
    [
      await form(op, { flow: "srv_pipeline", _csrf: csrf }, { origin: "https://evil.example" }),
      403,
      /another origin/,
    ],
    [
      await form(op, { flow: "srv_pipeline", _csrf: csrf }, { "sec-fetch-site": "cross-site" }),
      403,
      /another origin/,
    ],
    [await form(viewer, { flow: "srv_pipeline", _csrf: csrf }), 403, /CSRF token/],
  ];
  for (const [r, status, message] of cases) {
    assert.equal(r.status, status);
    assert.match(await r.text(), message);
  }
  const vHtml = await (await get(viewer, "/ui/")).text();
  const vCsrf = /name="_csrf" value="([^"]+)"/.exec(vHtml)![1];
  const asViewer = await form(viewer, { flow: "srv_pipeline", _csrf: vCsrf });
  assert.equal(asViewer.status, 403);
  assert.match(await asViewer.text(), /needs an operator token/);
  const started = await form(op, { flow: "srv_pipeline", input: '{"delayMs":1}', _csrf: csrf }, {
    origin: t.url,
  });
  assert.equal(started.status, 303);
  assert.match(started.headers.get("location")!, /^\/ui\/runs\/[0-9a-f-]{36}$/);
  // Logging out clears the cookie.
  const out = await fetch(`${t.url}/ui/logout`, {
    method: "POST",
    headers: { cookie: op, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: csrf }),
    redirect: "manual",
  });
  assert.equal(out.status, 303);
  assert.match(out.headers.get("set-cookie")!, /Max-Age=0/);
  await out.body?.cancel();
});

Deno.test("an expired session cookie is refused", async () => {
  await using t = await startServer({ sessionTtlMs: 1000 });
  const op = await login(t.url, OPERATOR);
  await new Promise((r) => setTimeout(r, 2100));
  const r = await fetch(`${t.url}/runs`, { headers: { cookie: op } });
  assert.equal(r.status, 401);
  await r.body?.cancel();
});

Deno.test("assets by exact name only: traversal, %2e%2e and encoded slashes are 404; ids with CR LF inject no header; redirects stay local", async () => {
  await using t = await startServer();
  const app = await fetch(`${t.url}/ui/assets/app.js`);
  assert.equal(app.headers.get("content-type"), "text/javascript; charset=utf-8");
  await app.body?.cancel();
  for (
    const path of [
      "/ui/assets/..%2f..%2fdeno.json",
      "/ui/assets/%2e%2e%2f%2e%2e%2fdeno.json",
      "/ui/assets/%2e%2e",
      "/ui/assets/..%5c..%5cdeno.json",
      "/ui/assets/app.js%00.css",
      "/ui/assets/__proto__",
      "/ui/assets/constructor",
    ]
  ) {
    const text = await raw(t.url, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.match(text, /^HTTP\/1\.1 404/, path);
    assert.doesNotMatch(text, /"exports"/, path);
  }
  const dotdot = await raw(
    t.url,
    `GET /ui/assets/../../deno.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  );
  assert.doesNotMatch(dotdot, /"exports"/);
  // CR LF in an id: a 400, and no header of the attacker's.
  const inj = await raw(
    t.url,
    `GET /runs/x%0d%0aSet-Cookie:%20a=b HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${OPERATOR}\r\nConnection: close\r\n\r\n`,
  );
  assert.match(inj, /^HTTP\/1\.1 400/);
  assert.doesNotMatch(inj, /^set-cookie: a=b/im);
  for (
    const next of [
      "//evil.example/x",
      "https://evil.example",
      "/ui/\r\nSet-Cookie:a=b",
      "/ui//evil.example",
      "javascript:alert(1)",
    ]
  ) {
    const page = await fetch(`${t.url}/ui/login?next=${encodeURIComponent(next)}`);
    const html = await page.text();
    assert.match(html, /name="next" value="\/ui\/"/, next);
    const res = await fetch(`${t.url}/ui/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: OPERATOR, next }),
      redirect: "manual",
    });
    assert.equal(res.headers.get("location"), "/ui/", next);
    await res.body?.cancel();
  }
  const page = await fetch(`${t.url}/ui/login`);
  assert.match(page.headers.get("content-security-policy")!, /script-src 'self'/);
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  assert.equal(page.headers.get("x-frame-options"), "DENY");
  await page.body?.cancel();
  const wrong = await fetch(`${t.url}/ui/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: "nope-nope-nope-nope" }),
  });
  assert.equal(wrong.status, 401);
  assert.match(await wrong.text(), /not valid/);
});

Deno.test("no token appears in the server's log, whatever was requested", async () => {
  await using t = await startServer({ orchestrate: { intervalMs: 50 } });
  await t.api("/runs", { method: "POST", json: { flow: "srv_pipeline", input: { delayMs: 1 } } });
  await t.api("/runs", { token: VIEWER });
  await t.api(`/runs?token=${OPERATOR}`, { token: null });
  await t.api(`/runs/${OPERATOR}`);
  await login(t.url, OPERATOR);
  await login(t.url, VIEWER);
  await new Promise((r) => setTimeout(r, 200));
  const log = JSON.stringify(t.events);
  assert.ok(t.events.length > 5);
  assert.ok(!log.includes(OPERATOR.slice(0, 12)), "operator token in the log");
  assert.ok(!log.includes(VIEWER.slice(0, 12)), "viewer token in the log");
});

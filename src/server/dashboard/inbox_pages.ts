/**
 * Dashboard pages of people: the human-in-the-loop inbox (approve / reject, text, selection and
 * cancel forms, each with its CSRF token), the login form, and the page that explains an error.
 *
 * @module
 */
import type { ApiFeedback } from "../views.ts";
import { badge, csrfField, type Html, html, jsonBlock, type PageInfo, time } from "./html.ts";

/**
 * One request with its answer forms (operators) or its question (viewers).
 *
 * @param info The request.
 * @param f The feedback request.
 * @param back Where to go after answering.
 * @returns A `<section>`.
 */
export function feedbackCard(info: PageInfo, f: ApiFeedback, back: string): Html {
  const id = encodeURIComponent(f.id);
  const fid = `fb-${f.id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  const hidden = html`${csrfField(info)}<input type="hidden" name="back" value="${back}">`;
  let form: Html | string = "";
  if (info.principal?.role === "operator" && f.state === "pending") {
    const r = f.request;
    const answer = r.type === "approval"
      ? html`<div class="buttons"><button type="submit" name="approved" value="true" class="ok">Approve</button>
<button type="submit" name="approved" value="false" class="danger">Reject</button></div>`
      : r.type === "text"
      ? html`
        <label for="${fid}-text">Your answer</label><textarea id="${fid}-text" name="text"
          rows="3" required></textarea>
        <div class="buttons"><button type="submit">Send</button></div>
      `
      : html`
        <fieldset><legend>Choose one</legend>${(r.options ?? []).map((o, i) =>
          html`
            <label
              class="choice"><input type="radio" name="selected" value="${o}" ${i === 0
                ? html`required`
                : ""}> ${o}</label>
          `
        )}</fieldset>
        <div class="buttons"><button type="submit">Send</button></div>
      `;
    form = html`
      <form method="post" action="/ui/feedback/${id}/answer" class="answer"
        aria-label="Answer ${f.taskId}">${hidden}${answer}</form>
      <details class="cancel">
        <summary>Cancel this request</summary>
        <form method="post"
          action="/ui/feedback/${id}/cancel">${hidden}<label>Reason <input name="reason" maxlength="2000"></label>
      <button type="submit" class="danger">Cancel request</button></form>
      </details>
    `;
  }
  return html`<section class="card" id="${f.id}" data-feedback="${f.id}" aria-labelledby="${fid}-h">
<h3 id="${fid}-h">${f.request.prompt}</h3>
<p class="meta">${badge(f.request.type)} ${badge(f.state)} run <a href="/ui/runs/${
    encodeURIComponent(f.runId)
  }">${f.runId}</a>, task <code>${f.taskId}</code>, asked ${time(f.createdAt)}${
    f.response?.respondedBy ? html`, answered by <strong>${f.response.respondedBy}</strong>` : ""
  }${f.cancelled ? html`, cancelled${f.cancelled.by ? ` by ${f.cancelled.by}` : ""}` : ""}</p>
${
    f.request.metadata
      ? html`<details><summary>Details</summary>${jsonBlock(f.request.metadata)}</details>`
      : ""
  }
${form}</section>`;
}

/**
 * The inbox.
 *
 * @param info The request.
 * @param pending Open requests.
 * @param recent Recently settled requests.
 * @param done What was just done (`answered`, `cancelled`), for a confirmation.
 * @returns The main content.
 */
export function inboxPage(
  info: PageInfo,
  pending: ApiFeedback[],
  recent: ApiFeedback[],
  done?: string,
): Html {
  return html`<h1>Inbox</h1>
${done ? html`<p class="flash" role="status">Request ${done}.</p>` : ""}
${
    info.principal?.role !== "operator"
      ? html`<p class="note">You are a viewer: answering needs an operator token.</p>`
      : ""
  }
${
    pending.length
      ? pending.map((f) => feedbackCard(info, f, "/ui/inbox"))
      : html`<p>Nothing waits for an answer.</p>`
  }
${
    recent.length
      ? html`
        <h2>Recently settled</h2>
        <ul class="recent">${recent.map((f) =>
          html`<li>${time(f.response?.respondedAt ?? f.cancelled?.at)} ${f.request.prompt} — ${
            badge(f.state)
          }${f.response ? answerText(f) : ""}${
            f.response?.respondedBy ? ` by ${f.response.respondedBy}` : ""
          }${f.cancelled?.by ? ` by ${f.cancelled.by}` : ""}</li>`
        )}</ul>
      `
      : ""
  }`;
}

function answerText(f: ApiFeedback): string {
  const r = f.response!;
  if (r.approved !== undefined) return r.approved ? " (approved)" : " (rejected)";
  if (r.selected !== undefined) return ` (${r.selected})`;
  return r.text !== undefined ? ` (“${r.text.slice(0, 80)}”)` : "";
}

/**
 * The login form.
 *
 * @param next Where to go after logging in.
 * @param error Why the last attempt failed.
 * @returns The main content.
 */
export function loginPage(next: string, error?: string): Html {
  return html`
    <h1>Log in</h1>
    ${error ? html`<p class="error" role="alert">${error}</p>` : ""}
    <form method="post" action="/ui/login" class="login">
    <input type="hidden" name="next" value="${next}">
    <label for="token">Token</label>
    <input id="token" name="token" type="password" autocomplete="off" required autofocus>
    <button type="submit">Log in</button></form>
    <p
      class="note">Ask whoever runs this server for a viewer or operator token. The browser keeps a signed session cookie, not the token.</p>
  `;
}

/**
 * A page that explains an error.
 *
 * @param status The HTTP status.
 * @param message What went wrong.
 * @param back A link back.
 * @returns The main content.
 */
export function messagePage(status: number, message: string, back = "/ui/"): Html {
  return html`
    <h1>${status === 404 ? "Not found" : status === 403 ? "Not allowed" : "Cannot do that"}</h1>
    <p class="error" role="alert">${message}</p>
    <p><a href="${back}">Back</a></p>
  `;
}

/**
 * HMAC-SHA256 authentication of everything that crosses Redis between producers and workers
 * (`secret` option / `GRAFLOW_SECRET`).
 *
 * A signature covers the message's kind (its direction: a job, an outcome, a context call, a
 * reply, a config value, a feedback answer), the key prefix, the run id and the job or call id,
 * then the content. So a signed message copied to another run, job, call, prefix or direction
 * does not verify: the receiver checks it against what it expects (the producer against the job
 * it waits for, a worker against the call it made), never against what the message says.
 *
 * Without a secret nothing is signed and everything verifies: see the transport policy
 * (`transport_policy.ts`) for when that is allowed.
 *
 * @module
 */
import { WorkflowError } from "../errors.ts";
import { constantTimeEqual, HmacSha256 } from "./hmac_sha256.ts";

/** What a signed message is: its direction is part of what is signed. */
export type MessageKind =
  | "job"
  | "outcome"
  | "call"
  | "reply"
  | "config"
  | "feedback-request"
  | "feedback-answer"
  | "journal"
  | "snapshot";

/** Version tag of the signed header (changes when the header does). */
const HEADER_VERSION = "graflow-hmac-1";

/** Signs and checks the messages of one key prefix. */
export class Signer {
  readonly #mac: HmacSha256 | undefined;
  readonly #prefix: string;

  /**
   * Creates the signer.
   *
   * @param secret The shared secret; without one nothing is signed.
   * @param prefix The key prefix (part of every signature).
   */
  constructor(secret: string | undefined, prefix: string) {
    this.#mac = secret ? new HmacSha256(secret) : undefined;
    this.#prefix = prefix;
  }

  /** Whether messages are signed (a secret is set). */
  get signs(): boolean {
    return this.#mac !== undefined;
  }

  /**
   * The signature of a message.
   *
   * @param kind Its kind.
   * @param runId Its run ("" for prefix-wide messages).
   * @param id Its job, call, field or request id.
   * @param text Its content.
   * @returns Hex HMAC-SHA256, or "" without a secret.
   */
  sign(kind: MessageKind, runId: string, id: string, text: string): string {
    if (this.#mac === undefined) return "";
    return this.#mac.hex(
      `${JSON.stringify([HEADER_VERSION, kind, this.#prefix, runId, id])}\n${text}`,
    );
  }

  /**
   * Checks a signature in constant time.
   *
   * @param kind The kind the receiver expects.
   * @param runId The run the receiver expects.
   * @param id The job, call, field or request id the receiver expects.
   * @param text The content.
   * @param signature The signature given (may be missing).
   * @returns Whether it is the content's for that kind, run and id (always true without a secret).
   */
  verify(
    kind: MessageKind,
    runId: string,
    id: string,
    text: string,
    signature: string | undefined,
  ): boolean {
    if (this.#mac === undefined) return true;
    if (typeof signature !== "string" || signature.length !== 64) return false;
    return constantTimeEqual(signature, this.sign(kind, runId, id, text));
  }

  /**
   * Packs a message with its signature: `<hex>|<text>`, or `|<text>` without a secret.
   *
   * @param kind Its kind.
   * @param runId Its run ("" for prefix-wide messages).
   * @param id Its job, call, field or request id.
   * @param text Its content.
   * @returns The sealed string.
   */
  seal(kind: MessageKind, runId: string, id: string, text: string): string {
    return `${this.sign(kind, runId, id, text)}|${text}`;
  }

  /**
   * Unpacks a sealed message and checks it was sealed for this kind, run and id.
   *
   * @param kind The kind the receiver expects.
   * @param runId The run the receiver expects.
   * @param id The job, call, field or request id the receiver expects.
   * @param sealed What {@linkcode Signer.seal} made (or anything read from Redis).
   * @returns The content.
   * @throws {WorkflowError} `BAD_SIGNATURE` when it is not sealed, or not for these.
   */
  open(kind: MessageKind, runId: string, id: string, sealed: unknown): string {
    const r = this.check(kind, runId, id, sealed);
    if ("text" in r) return r.text;
    throw new WorkflowError(`Cannot accept ${describe(kind, runId, id)}: ${r.problem}`, {
      code: "BAD_SIGNATURE",
    });
  }

  /**
   * Like {@linkcode Signer.open}, without throwing.
   *
   * @param kind The kind the receiver expects.
   * @param runId The run the receiver expects.
   * @param id The job, call, field or request id the receiver expects.
   * @param sealed What {@linkcode Signer.seal} made (or anything read from Redis).
   * @returns The content, or what is wrong (and the unauthenticated content, when there is one).
   */
  check(
    kind: MessageKind,
    runId: string,
    id: string,
    sealed: unknown,
  ): { text: string } | { problem: string; unverified?: string } {
    const bar = typeof sealed === "string" ? sealed.indexOf("|") : -1;
    if (bar < 0) return { problem: "it is not sealed" };
    const text = (sealed as string).slice(bar + 1);
    if (this.verify(kind, runId, id, text, (sealed as string).slice(0, bar))) return { text };
    return {
      problem: bar === 0
        ? "it is not signed, and a secret is set"
        : "its signature does not match (forged, copied from another run, job, call or " +
          "direction, or signed with another secret)",
      unverified: text,
    };
  }
}

function describe(kind: MessageKind, runId: string, id: string): string {
  const what = kind.replace("-", " ");
  return runId ? `the ${what} ${id} of run ${runId}` : `the ${what} ${id}`;
}

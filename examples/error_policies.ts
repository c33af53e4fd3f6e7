// deno-lint-ignore-file no-console
/**
 * The error policies of parallel groups, on the same five members: after an order is placed,
 * `charge`, `reserve_stock` and `push` succeed while `email` and `sms` fail. Each policy
 * decides whether the group (and so the run) succeeds; when it fails, the run rejects with a
 * `ParallelGroupError` whose fields say which members failed and which succeeded, and the
 * group's successor (`confirm`) does not run. Built-in policies decide as soon as their answer
 * is certain (`strict` at the first failure, `firstSuccess` at the first success, …): the
 * members still running are then cancelled (their `ctx.signal` aborts) and listed as such.
 * Run it with:
 *
 *     deno run -A examples/error_policies.ts
 *
 * @module
 */
import {
  atLeast,
  bestEffort,
  critical,
  firstSuccess,
  flow,
  type GroupOutcome,
  type GroupPolicy,
  parallel,
  ParallelGroupError,
  strict,
  task,
} from "../mod.ts";

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

const place = task("place_order", () => ({ order: "o-17", total: 42 }));
const charge = task("charge", async () => (await delay(5), "charged 42.00"));
const reserve = task("reserve_stock", async () => (await delay(2), "3 items reserved"));
const push = task("push", () => "push sent");
const email = task("email", async () => {
  await delay(3);
  throw new Error("SMTP server refused the connection");
});
const sms = task("sms", () => {
  throw new TypeError("phone number is missing");
});
const confirm = task("confirm", (results: Record<string, string>) => Object.keys(results).sort());

/** A custom policy: any function of the outcome that throws to fail the group. */
const notifications = ["email", "sms", "push"];
const oneChannelReachesTheCustomer: GroupPolicy = (outcome: GroupOutcome) => {
  if (!outcome.succeeded.includes("charge")) throw new Error("the charge did not go through");
  if (!outcome.succeeded.some((m) => notifications.includes(m))) {
    throw new Error("no notification channel reached the customer");
  }
};
const everyNotificationSent: GroupPolicy = (outcome: GroupOutcome) => {
  const missing = outcome.failed.filter((f) => notifications.includes(f.taskId));
  if (missing.length) throw new Error(`${missing.length} notification(s) not sent`);
};

const cases: [string, GroupPolicy][] = [
  ["strict()", strict()],
  ["bestEffort()", bestEffort()],
  ["atLeast(3)", atLeast(3)],
  ["atLeast(4)", atLeast(4)],
  ['critical(["charge", "reserve_stock"])', critical(["charge", "reserve_stock"])],
  ['critical(["charge", "email"])', critical(["charge", "email"])],
  ["custom: one channel reaches the customer", oneChannelReachesTheCustomer],
  ["custom: every notification sent", everyNotificationSent],
  ["firstSuccess()", firstSuccess()],
];

console.log("Members: charge, reserve_stock, push succeed; email and sms fail.\n");
let i = 0;
for (const [label, policy] of cases) {
  const group = parallel([charge, reserve, email, sms, push], {
    name: `after_order_${++i}`,
    policy,
  });
  const f = flow`${place} >> ${group} >> ${confirm}`;
  if (i === 1) console.log(f.toAscii());
  let cancelled: string[] = [];
  const onEvent = (e: { type: string; cancelled?: string[] }) => {
    if (e.type === "group.settled") cancelled = e.cancelled ?? [];
  };
  try {
    const result = await f.run({ onEvent });
    console.log(`${label}: succeeded`);
    console.log(`  confirm received: ${(result.output as string[]).join(", ")}`);
    if (cancelled.length) console.log(`  cancelled: ${cancelled.join(", ")}`);
  } catch (error) {
    if (!(error instanceof ParallelGroupError)) throw error;
    console.log(`${label}: failed with ${error.name} (code ${error.code})`);
    console.log(`  groupId:   ${error.groupId}`);
    console.log(`  succeeded: ${error.succeeded.join(", ")}`);
    for (const f of error.failed) {
      const e = f.error as Error;
      console.log(`  failed:    ${f.taskId}: ${e.name}: ${e.message}`);
    }
    console.log(`  message:   ${error.message}`);
    if (cancelled.length) console.log(`  cancelled: ${cancelled.join(", ")}`);
  }
}

// Policy arguments that cannot work are caller mistakes: built-in errors, not run failures.
for (
  const make of [
    () => atLeast(-1),
    () => critical([]),
    () => critical(["refund"]),
    () => atLeast(6),
  ]
) {
  try {
    const group = parallel([charge, reserve, email, sms, push], { policy: make() });
    await flow`${place} >> ${group} >> ${confirm}`.run();
    console.log("unexpected: accepted");
  } catch (error) {
    console.log(`refused: ${(error as Error).name}: ${(error as Error).message}`);
  }
}

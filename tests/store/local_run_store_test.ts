/**
 * `localRunStore`: the run store conformance suite, the channel and feedback suites on its
 * channel and feedback store, and what only a database on disk can show.
 *
 * @module
 */
import { type Clock, localRunStore } from "../../mod.ts";
import { runStoreSuite } from "./run_store_suite.ts";
import { channelConformance } from "../channels/channel_suite.ts";
import { feedbackStoreSuite } from "../checkpoint/feedback_store_suite.ts";

async function tempStore(clock?: Clock) {
  const dir = await Deno.makeTempDir({ prefix: "graflow_store_" });
  const store = localRunStore({ dir, pollMs: 20, ...(clock ? { clock } : {}) });
  return {
    store,
    close: async () => {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

runStoreSuite("localRunStore", (clock) => tempStore(clock));

channelConformance("localRunStore channel", async () => {
  const { store, close } = await tempStore();
  return { channel: store.channel(`ch-${crypto.randomUUID()}`), close };
});

feedbackStoreSuite("localRunStore feedback", async () => {
  const { store, close } = await tempStore();
  return { store: store.feedback, close };
});

/**
 * The feedback store conformance suite on the file and memory stores (the Redis store runs it
 * in tests/redis/).
 *
 * @module
 */
import { FileFeedbackStore, MemoryFeedbackStore } from "../../mod.ts";
import { feedbackStoreSuite } from "./feedback_store_suite.ts";

feedbackStoreSuite("MemoryFeedbackStore", async () => ({
  store: new MemoryFeedbackStore(),
  close: async () => {},
}));

feedbackStoreSuite("FileFeedbackStore", async () => {
  const dir = await Deno.makeTempDir({ prefix: "graflow_fbs_" });
  return {
    store: new FileFeedbackStore(dir, { pollMs: 5 }),
    close: () => Deno.remove(dir, { recursive: true }),
  };
});

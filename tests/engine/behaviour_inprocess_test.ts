import { behaviourSuite } from "./behaviour_suite.ts";

behaviourSuite("in-process", () => Promise.resolve({ options: {} }));

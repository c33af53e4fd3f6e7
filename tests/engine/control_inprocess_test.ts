import { controlSuite } from "./control_suite.ts";

controlSuite("in-process", () => Promise.resolve({ options: {} }));

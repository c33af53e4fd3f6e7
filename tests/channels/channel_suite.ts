/**
 * The conformance suite every {@linkcode Channel} implementation passes. It uses only the
 * `Channel` interface and real time (short TTLs), so a Redis-backed channel runs it unchanged:
 *
 * ```ts ignore
 * channelConformance("MemoryChannel", async () => {
 *   const channel = new MemoryChannel({ maxValueBytes: 4096 });
 *   return { channel, maxValueBytes: 4096, close: async () => {} };
 * });
 * ```
 *
 * @module
 */
import assert from "assert";
import type { Channel } from "../../mod.ts";

/** A channel under test and how to dispose of it. */
export interface ChannelFixture {
  /** A fresh, empty channel (its own key space). */
  channel: Channel;
  /** Releases whatever the channel holds (connections, keys). */
  close(): Promise<void>;
  /** When the channel was made with a small value size limit: that limit, to test it. */
  maxValueBytes?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A short TTL and a wait that is certainly longer, for real clocks (Redis too). */
const TTL_MS = 100;
const AFTER_TTL_MS = 250;

class WithMethods {
  x = 1;
  hello(): string {
    return "hi";
  }
}

/** Values that must come back exactly as they were written. */
function roundTripCases(): [string, unknown][] {
  const bytes = new Uint8Array(256);
  for (let i = 0; i < bytes.length; i++) bytes[i] = i;
  return [
    ["null", null],
    ["true", true],
    ["false", false],
    ["zero", 0],
    ["negative float", -1.5],
    ["max safe integer", Number.MAX_SAFE_INTEGER],
    ["tiny float", 5e-324],
    ["empty string", ""],
    ["unicode string", 'héllo 名前 🙂 \u2028 \u0000 "quoted" \\'],
    ["empty object", {}],
    ["nested object", { a: { b: { c: [1, "two", null, true] } }, d: "" }],
    ["undefined inside an object", { a: undefined, b: 1 }],
    ["undefined inside an array", [undefined, 1, undefined]],
    ["empty array", []],
    ["array of mixed values", [1, "a", null, { b: [2] }, [3, [4]]]],
    ["NaN", NaN],
    ["Infinity", Infinity],
    ["-Infinity", -Infinity],
    ["-0", -0],
    ["non-finite numbers nested", { n: NaN, i: [Infinity, -0] }],
    ["BigInt", 2n ** 70n],
    ["negative BigInt", -5n],
    ["Date", new Date("2024-02-29T12:34:56.789Z")],
    ["invalid Date", new Date(NaN)],
    ["Map", new Map<unknown, unknown>([["a", 1], [2, { b: 3n }], [null, undefined]])],
    ["Map with object keys", new Map([[{ k: 1 }, "v"]])],
    ["Set", new Set([1, "1", 2n, null])],
    ["Uint8Array", bytes],
    ["empty Uint8Array", new Uint8Array(0)],
    [
      "deeply nested mix",
      [{ when: new Date(0), tags: new Set(["x"]), idx: new Map([["k", [1n, -0]]]) }],
    ],
    ['an object with a "$type" key', { $type: "Date", value: "not a date" }],
    ['a "$type" key that is not a string', { $type: 1, value: 2 }],
    ['a nested "$type" key', { a: { $type: "Map", value: [] }, b: [{ $type: "undefined" }] }],
    ['a "$type" object wrapper lookalike', { $type: "Object", value: { x: 1 } }],
    ["an own __proto__ key", JSON.parse('{"__proto__": {"polluted": true}, "a": 1}')],
  ];
}

/**
 * Registers the conformance tests for a channel implementation.
 *
 * @param name Prefix of every test name, e.g. `"MemoryChannel"`.
 * @param make Creates a fresh fixture for one test.
 */
export function channelConformance(name: string, make: () => Promise<ChannelFixture>): void {
  const test = (title: string, fn: (channel: Channel, fixture: ChannelFixture) => Promise<void>) =>
    Deno.test(`${name}: ${title}`, async () => {
      const fixture = await make();
      try {
        await fn(fixture.channel, fixture);
      } finally {
        await fixture.close();
      }
    });

  test("get returns undefined or the fallback for a missing key", async (ch) => {
    assert.equal(await ch.get("missing"), undefined);
    assert.equal(await ch.get("missing", 42), 42);
    assert.deepEqual(await ch.get("missing", { a: 1 }), { a: 1 });
  });

  test("get returns stored falsy values, not the fallback", async (ch) => {
    for (const [key, value] of [["zero", 0], ["empty", ""], ["no", false], ["nil", null]]) {
      await ch.set(key as string, value);
      assert.equal(await ch.get(key as string, "fallback"), value, `key ${key}`);
    }
  });

  test("set then get returns the value; set again overwrites it", async (ch) => {
    await ch.set("k", { v: 1 });
    assert.deepEqual(await ch.get("k"), { v: 1 });
    await ch.set("k", "second");
    assert.equal(await ch.get("k"), "second");
  });

  test("a stored undefined is a present key", async (ch) => {
    await ch.set("u", undefined);
    assert.equal(await ch.has("u"), true);
    assert.equal(await ch.get("u"), undefined);
    assert.deepEqual(await ch.keys(), ["u"]);
  });

  test("has and delete report whether the key existed", async (ch) => {
    assert.equal(await ch.has("k"), false);
    assert.equal(await ch.delete("k"), false);
    await ch.set("k", 1);
    assert.equal(await ch.has("k"), true);
    assert.equal(await ch.delete("k"), true);
    assert.equal(await ch.has("k"), false);
    assert.equal(await ch.get("k", "gone"), "gone");
    assert.equal(await ch.delete("k"), false);
  });

  test("keys are every live key, sorted", async (ch) => {
    assert.deepEqual(await ch.keys(), []);
    for (const key of ["b", "a:2", "Z", "a:10", "ä", "with space", "a"]) await ch.set(key, key);
    await ch.append("list", 1);
    await ch.increment("count");
    assert.deepEqual(
      await ch.keys(),
      ["Z", "a", "a:10", "a:2", "b", "count", "list", "with space", "ä"],
    );
    await ch.delete("b");
    assert.ok(!(await ch.keys()).includes("b"));
  });

  test("keys with unusual characters round-trip", async (ch) => {
    const keys = ["a:b:c", "{braces}", "*", "名前", "🙂", "new\nline", " ", "$type"];
    for (const key of keys) await ch.set(key, key.length);
    for (const key of keys) assert.equal(await ch.get(key), key.length, `key ${key}`);
    assert.deepEqual(await ch.keys(), [...keys].sort());
  });

  test("an empty key is a TypeError", async (ch) => {
    await assert.rejects(ch.set("", 1), TypeError);
    await assert.rejects(ch.get(""), TypeError);
    await assert.rejects(ch.append("", 1), TypeError);
    await assert.rejects(ch.increment(""), TypeError);
  });

  test("clear removes every key", async (ch) => {
    await ch.set("a", 1);
    await ch.append("b", 2);
    await ch.set("c", 3, { ttlMs: 10_000 });
    await ch.clear();
    assert.deepEqual(await ch.keys(), []);
    assert.equal(await ch.get("a", "none"), "none");
    assert.equal(await ch.has("b"), false);
    await ch.set("a", "again");
    assert.equal(await ch.get("a"), "again");
  });

  test("a key with a TTL disappears after it", async (ch) => {
    await ch.set("short", "v", { ttlMs: TTL_MS });
    await ch.set("kept", "v");
    assert.equal(await ch.get("short"), "v");
    assert.equal(await ch.has("short"), true);
    await sleep(AFTER_TTL_MS);
    assert.equal(await ch.get("short"), undefined);
    assert.equal(await ch.get("short", "fallback"), "fallback");
    assert.equal(await ch.has("short"), false);
    assert.deepEqual(await ch.keys(), ["kept"]);
    assert.equal(await ch.delete("short"), false);
  });

  test("a plain set clears an earlier TTL", async (ch) => {
    await ch.set("k", "temporary", { ttlMs: TTL_MS });
    await ch.set("k", "permanent");
    await sleep(AFTER_TTL_MS);
    assert.equal(await ch.get("k"), "permanent");
    assert.equal(await ch.has("k"), true);
  });

  test("a set with a TTL gives a permanent key a TTL", async (ch) => {
    await ch.set("k", "permanent");
    await ch.set("k", "temporary", { ttlMs: TTL_MS });
    assert.equal(await ch.get("k"), "temporary");
    await sleep(AFTER_TTL_MS);
    assert.equal(await ch.has("k"), false);
  });

  test("a list set with a TTL expires too", async (ch) => {
    await ch.set("list", [1, 2], { ttlMs: TTL_MS });
    assert.deepEqual(await ch.get("list"), [1, 2]);
    await sleep(AFTER_TTL_MS);
    assert.equal(await ch.get("list"), undefined);
    assert.equal(await ch.append("list", 3), 1, "append after expiry starts a new list");
    assert.deepEqual(await ch.get("list"), [3]);
  });

  test("an invalid ttlMs is a RangeError and writes nothing", async (ch) => {
    for (const ttlMs of [0, -1, NaN, Infinity]) {
      await assert.rejects(ch.set("k", 1, { ttlMs }), RangeError, `ttlMs ${ttlMs}`);
    }
    assert.equal(await ch.has("k"), false);
  });

  test("append creates a list and returns the new length", async (ch) => {
    assert.equal(await ch.append("log", "a"), 1);
    assert.equal(await ch.append("log", { b: 2 }), 2);
    assert.equal(await ch.append("log", [3]), 3);
    assert.equal(await ch.append("log", undefined), 4);
    assert.deepEqual(await ch.get("log"), ["a", { b: 2 }, [3], undefined]);
  });

  test("append extends an array written with set", async (ch) => {
    await ch.set("xs", [1, 2]);
    assert.equal(await ch.append("xs", 3), 3);
    assert.deepEqual(await ch.get("xs"), [1, 2, 3]);
    await ch.set("empty", []);
    assert.equal(await ch.append("empty", "x"), 1);
    assert.deepEqual(await ch.get("empty"), ["x"]);
  });

  test("append to a key that is not a list is a TypeError and changes nothing", async (ch) => {
    await ch.set("n", 5);
    await ch.set("s", "text");
    await ch.set("o", { a: [1] });
    for (const key of ["n", "s", "o"]) {
      await assert.rejects(ch.append(key, 1), (error: unknown) => {
        assert.ok(error instanceof TypeError, `key ${key}: ${error}`);
        assert.match(error.message, new RegExp(`"${key}"`));
        assert.match(error.message, /not a list/);
        return true;
      });
    }
    assert.equal(await ch.get("n"), 5);
    assert.equal(await ch.get("s"), "text");
    assert.deepEqual(await ch.get("o"), { a: [1] });
  });

  test("append of a value that cannot be stored is a TypeError and changes nothing", async (ch) => {
    await ch.append("log", 1);
    await assert.rejects(ch.append("log", { f: () => 1 }), TypeError);
    await assert.rejects(ch.append("fresh", Symbol("s")), TypeError);
    assert.deepEqual(await ch.get("log"), [1]);
    assert.equal(await ch.has("fresh"), false);
  });

  test("concurrent appends all land", async (ch) => {
    const lengths = await Promise.all(
      Array.from({ length: 50 }, (_, i) => ch.append("log", i)),
    );
    assert.deepEqual(
      [...lengths].sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    const list = (await ch.get<number[]>("log"))!;
    assert.deepEqual([...list].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  });

  test("increment treats a missing key as 0 and returns the new value", async (ch) => {
    assert.equal(await ch.increment("c"), 1);
    assert.equal(await ch.increment("c"), 2);
    assert.equal(await ch.increment("c", 10), 12);
    assert.equal(await ch.increment("c", -20), -8);
    assert.equal(await ch.get("c"), -8);
    assert.equal(await ch.increment("other", 5), 5);
    assert.equal(await ch.increment("zero", 0), 0);
    assert.equal(await ch.has("zero"), true);
  });

  test("increment adds floats exactly as JavaScript does", async (ch) => {
    assert.equal(await ch.increment("f", 0.1), 0.1);
    assert.equal(await ch.increment("f", 0.2), 0.1 + 0.2);
    assert.equal(await ch.get("f"), 0.30000000000000004);
    await ch.set("big", 2 ** 53);
    assert.equal(await ch.increment("big", 1), 2 ** 53 + 1); // 2 ** 53 in doubles
    await ch.set("g", 1e300);
    assert.equal(await ch.increment("g", 1e300), 2e300);
    await ch.set("h", -0.5);
    assert.equal(await ch.increment("h", 0.25), -0.25);
  });

  test("increment of a stored number written by set works", async (ch) => {
    await ch.set("n", 41.5);
    assert.equal(await ch.increment("n"), 42.5);
  });

  test("increment of a value that is not a number is a TypeError and changes nothing", async (ch) => {
    await ch.set("s", "5");
    await ch.set("o", { n: 1 });
    await ch.set("b", 5n);
    await ch.append("l", 1);
    for (const key of ["s", "o", "b", "l"]) {
      await assert.rejects(ch.increment(key), (error: unknown) => {
        assert.ok(error instanceof TypeError, `key ${key}: ${error}`);
        assert.match(error.message, new RegExp(`"${key}".*not a number`));
        return true;
      });
    }
    assert.equal(await ch.get("s"), "5");
    assert.deepEqual(await ch.get("l"), [1]);
  });

  test("increment with a bad `by` is a TypeError and changes nothing", async (ch) => {
    await ch.set("n", 1);
    for (const by of [NaN, Infinity, -Infinity, "1", null, 1n]) {
      await assert.rejects(
        ch.increment("n", by as number),
        (error: unknown) => {
          assert.ok(error instanceof TypeError, `by ${String(by)}: ${error}`);
          assert.match(error.message, /by must be a finite number/);
          return true;
        },
      );
    }
    assert.equal(await ch.get("n"), 1);
    assert.equal(await ch.has("fresh"), false);
    await assert.rejects(ch.increment("fresh", NaN), TypeError);
    assert.equal(await ch.has("fresh"), false);
  });

  test("concurrent increments are atomic", async (ch) => {
    await Promise.all(Array.from({ length: 100 }, () => ch.increment("c")));
    assert.equal(await ch.get("c"), 100);
  });

  test("values of every supported type round-trip faithfully", async (ch) => {
    const cases = roundTripCases();
    for (const [label, value] of cases) await ch.set(`v:${label}`, value);
    for (const [label, value] of cases) {
      const back = await ch.get(`v:${label}`);
      assert.deepStrictEqual(back, value, label);
      if (typeof value === "number") assert.ok(Object.is(back, value), `${label}: Object.is`);
    }
    const arrays = await ch.get<unknown[]>("v:non-finite numbers nested");
    assert.ok(Object.is((arrays as unknown as { i: number[] }).i[1], -0), "-0 nested");
  });

  test("values of every supported type round-trip through append", async (ch) => {
    const cases = roundTripCases();
    for (const [, value] of cases) await ch.append("all", value);
    const back = (await ch.get<unknown[]>("all"))!;
    assert.equal(back.length, cases.length);
    cases.forEach(([label, value], i) => assert.deepStrictEqual(back[i], value, label));
  });

  test("an object without prototype comes back with its data", async (ch) => {
    await ch.set("k", Object.assign(Object.create(null), { a: 1, b: [2] }));
    assert.deepEqual({ ...(await ch.get<object>("k")) }, { a: 1, b: [2] });
  });

  test('a "__proto__" key is stored as data, not as a prototype', async (ch) => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    await ch.set("proto", value);
    const back = await ch.get<Record<string, unknown>>("proto");
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
    assert.deepEqual(Object.keys(back!), ["__proto__", "a"]);
    assert.equal((back as { polluted?: boolean }).polluted, undefined);
    assert.deepEqual(Object.getOwnPropertyDescriptor(back, "__proto__")?.value, { polluted: true });
  });

  test("values are copies: mutating after set or after get changes nothing", async (ch) => {
    const value = { list: [1, 2], map: new Map([["a", 1]]), bytes: new Uint8Array([1, 2]) };
    await ch.set("k", value);
    value.list.push(3);
    value.map.set("b", 2);
    value.bytes[0] = 99;
    const first = (await ch.get<typeof value>("k"))!;
    assert.deepEqual(first.list, [1, 2]);
    assert.deepEqual([...first.map], [["a", 1]]);
    assert.deepEqual([...first.bytes], [1, 2]);
    first.list.push(4);
    first.map.clear();
    const second = (await ch.get<typeof value>("k"))!;
    assert.deepEqual(second.list, [1, 2]);
    assert.equal(second.map.size, 1);
    assert.notEqual(first, second);

    const array = [{ a: 1 }];
    await ch.set("arr", array);
    array[0].a = 2;
    array.push({ a: 3 });
    assert.deepEqual(await ch.get("arr"), [{ a: 1 }]);
    const item = { n: 1 };
    await ch.append("log", item);
    item.n = 2;
    assert.deepEqual(await ch.get("log"), [{ n: 1 }]);
  });

  test("set refuses a function with a TypeError naming where it is", async (ch) => {
    await assert.rejects(ch.set("k", function named() {}), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /"k"/);
      assert.match(error.message, /a function \(named\)/);
      return true;
    });
    await assert.rejects(ch.set("k", { a: { b: () => 1 } }), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /value\.a\.b is a function/);
      return true;
    });
    assert.equal(await ch.has("k"), false);
  });

  test("set refuses a class instance with methods", async (ch) => {
    await assert.rejects(ch.set("k", new WithMethods()), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /an instance of WithMethods/);
      return true;
    });
    await assert.rejects(ch.set("k", { nested: [new WithMethods()] }), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /value\.nested\[0\] is an instance of WithMethods/);
      return true;
    });
  });

  test("set refuses other objects it cannot store faithfully", async (ch) => {
    class MyMap extends Map {}
    for (
      const [label, value] of [
        ["RegExp", /x/],
        ["Error", new Error("e")],
        ["Promise", Promise.resolve(1)],
        ["WeakMap", new WeakMap()],
        ["Map subclass", new MyMap()],
        ["Int16Array", new Int16Array(2)],
      ] as [string, unknown][]
    ) {
      await assert.rejects(ch.set("k", value), TypeError, label);
    }
    assert.equal(await ch.has("k"), false);
  });

  test("set refuses a symbol", async (ch) => {
    await assert.rejects(ch.set("k", Symbol("s")), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /a symbol/);
      return true;
    });
    await assert.rejects(ch.set("k", { s: Symbol.iterator }), /value\.s is a symbol/);
  });

  test("set refuses a cycle and names where it closes", async (ch) => {
    const node: Record<string, unknown> = { name: "root", child: { up: null } };
    (node.child as Record<string, unknown>).up = node;
    await assert.rejects(ch.set("k", node), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /"k"/);
      assert.match(error.message, /value\.child\.up is a circular reference/);
      return true;
    });
    const list: unknown[] = [1];
    list.push({ back: list });
    await assert.rejects(ch.set("l", list), /circular reference/);
    const map = new Map<string, unknown>();
    map.set("self", map);
    await assert.rejects(ch.set("m", map), /circular reference/);
    assert.deepEqual(await ch.keys(), []);
  });

  test("shared (non-circular) references are stored as copies", async (ch) => {
    const shared = { n: 1 };
    await ch.set("k", { a: shared, b: shared, list: [shared, shared] });
    assert.deepEqual(await ch.get("k"), { a: { n: 1 }, b: { n: 1 }, list: [{ n: 1 }, { n: 1 }] });
  });

  test("a refused set leaves the previous value and TTL-free state intact", async (ch) => {
    await ch.set("k", "before");
    await assert.rejects(ch.set("k", () => 1), TypeError);
    assert.equal(await ch.get("k"), "before");
    await assert.rejects(ch.set("k", [1, () => 2]), TypeError);
    assert.equal(await ch.get("k"), "before");
  });

  test("a value over maxValueBytes is a RangeError and writes nothing", async (ch, fixture) => {
    const max = fixture.maxValueBytes;
    if (max === undefined) return; // the fixture has the default (large) limit
    await ch.set("small", "x".repeat(Math.floor(max / 2)));
    await assert.rejects(ch.set("big", "x".repeat(max + 1)), (error: unknown) => {
      assert.ok(error instanceof RangeError, `${error}`);
      assert.match(error.message, /"big"/);
      assert.match(error.message, /maxValueBytes/);
      return true;
    });
    // Multi-byte characters count as bytes, not characters.
    await assert.rejects(ch.set("big", "é".repeat(Math.ceil(max / 2) + 1)), RangeError);
    await assert.rejects(ch.append("list", "x".repeat(max + 1)), RangeError);
    assert.equal(await ch.has("big"), false);
    assert.equal(await ch.has("list"), false);
    assert.equal((await ch.get<string>("small"))!.length, Math.floor(max / 2));
  });

  // Both channels accept and refuse exactly the same values and keys: every case below is run
  // against every implementation with the same expectation.

  test("a sparse array is refused at set and append, at any depth, and writes nothing", async (ch) => {
    // deno-lint-ignore no-sparse-arrays
    const sparse = [1, , 3];
    for (
      const value of [sparse, { a: sparse }, new Array(2), [[1, , 2]], new Map([["k", sparse]])]
    ) {
      await assert.rejects(ch.set("k", value), (error: unknown) => {
        assert.ok(error instanceof TypeError, String(error));
        assert.match(error.message, /a hole in a sparse array/);
        return true;
      });
    }
    await assert.rejects(ch.append("l", sparse), /a hole in a sparse array/);
    assert.deepEqual(await ch.keys(), []);
    // An array of undefined is not sparse: it round-trips.
    await ch.set("k", [1, undefined, 3]);
    assert.deepEqual(await ch.get("k"), [1, undefined, 3]);
    assert.ok(1 in (await ch.get<unknown[]>("k"))!, "undefined is an element, not a hole");
  });

  test("ill-formed UTF-16 keys are refused by every operation; U+FFFD is a key", async (ch) => {
    for (const key of ["\uD800", "a\uDC00", "\uDBFF\uDBFF", "x\uD83D"]) {
      await assert.rejects(ch.set(key, 1), /well-formed UTF-16/, JSON.stringify(key));
      await assert.rejects(ch.get(key), TypeError);
      await assert.rejects(ch.has(key), TypeError);
      await assert.rejects(ch.delete(key), TypeError);
      await assert.rejects(ch.append(key, 1), TypeError);
      await assert.rejects(ch.increment(key), TypeError);
    }
    await ch.set("\uFFFD", "replacement");
    await ch.set("\uD83D\uDE42", "pair");
    assert.deepEqual(await ch.keys(), ["\uD83D\uDE42", "\uFFFD"].sort());
    assert.equal(await ch.get("\uFFFD"), "replacement");
  });

  test("keys up to 1024 code units are accepted, longer ones refused", async (ch) => {
    await ch.set("k".repeat(1024), 1);
    await ch.set("🙂".repeat(512), 2);
    assert.equal(await ch.get("k".repeat(1024)), 1);
    assert.equal(await ch.get("🙂".repeat(512)), 2);
    await assert.rejects(ch.set("k".repeat(1025), 1), /at most 1024 characters, got 1025/);
    await assert.rejects(ch.get("k".repeat(100_000)), TypeError);
    await assert.rejects(ch.increment("k".repeat(1025)), TypeError);
    assert.equal((await ch.keys()).length, 2);
  });

  test("keys that are Object.prototype names are ordinary keys", async (ch) => {
    for (const key of ["__proto__", "constructor", "hasOwnProperty", "toString"]) {
      assert.equal(await ch.get(key), undefined, key);
      assert.equal(await ch.has(key), false, key);
      await ch.set(key, { key });
      assert.deepEqual(await ch.get(key), { key });
    }
    assert.equal(await ch.increment("valueOf", 2), 2);
    assert.deepEqual(await ch.keys(), [
      "__proto__",
      "constructor",
      "hasOwnProperty",
      "toString",
      "valueOf",
    ]);
    assert.equal(({} as Record<string, unknown>).key, undefined, "no prototype was changed");
  });

  test("edge values round-trip the same way in every channel", async (ch) => {
    const cases: [string, unknown][] = [
      ["lone surrogate inside a value", "\uD800x\uDFFF"],
      ["lone surrogate as a Map key", new Map([["\uDC00", 1]])],
      ["lone surrogate as an object key", { "\uD800": 1 }],
      ["Map with Map keys", new Map([[new Map([[1, 2]]), new Set([new Set([3])])]])],
      ["Date at the end of time", new Date(8.64e15)],
      ["Date before the epoch", new Date(-8.64e15)],
      ["BigInt of 300 digits", -(10n ** 299n) - 7n],
      ["Uint8Array view", new Uint8Array([9, 8, 7, 6]).subarray(1, 3)],
      ["non-enumerable symbol key is not data", Object.defineProperty({ a: 1 }, Symbol("s"), {})],
      ["-0 and NaN in a list", [-0, NaN, -Infinity]],
      ["nested 999 levels", nest(999)],
    ];
    for (const [label, value] of cases) {
      await ch.set("k", value);
      assert.deepEqual(await ch.get("k"), value, label);
      await ch.delete("l");
      await ch.append("l", value);
      assert.deepEqual(await ch.get("l"), [value], `${label} (append)`);
    }
    await ch.set("z", -0);
    assert.ok(Object.is(await ch.get("z"), -0));
  });

  test("edge values are refused the same way in every channel, writing nothing", async (ch) => {
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const throwing = {
      get bad(): never {
        throw new TypeError("getter refused");
      },
    };
    const cases: [string, unknown, RegExp][] = [
      ["enumerable symbol key", { [Symbol("s")]: 1 }, /symbol key/],
      ["symbol key in a nested object", { a: [{ [Symbol.iterator]: 1 }] }, /symbol key/],
      ["nested 1001 levels", nest(1001), /nested deeper than 1000/],
      ["a revoked Proxy", revoked.proxy, /revoked/],
      ["a throwing getter", throwing, /getter refused/],
      ["a Map with a function key", new Map([[() => 1, 1]]), /function/],
      ["a Set holding a symbol", new Set([Symbol("s")]), /symbol/],
    ];
    for (const [label, value, pattern] of cases) {
      await assert.rejects(ch.set("k", value), pattern, label);
      await assert.rejects(ch.set("k", [value]), pattern, `${label} (in a list)`);
      await assert.rejects(ch.append("l", value), pattern, `${label} (append)`);
    }
    assert.deepEqual(await ch.keys(), []);
  });

  test("a BigInt of a million digits is stored; one digit more is refused", async (ch, fixture) => {
    if (fixture.maxValueBytes !== undefined) return; // over the small size limit anyway
    const big = 10n ** 999_999n; // 1,000,000 digits
    await ch.set("big", big);
    assert.equal(await ch.get("big"), big);
    await assert.rejects(ch.set("big", big * 10n), /BigInt of more than 1000000 digits/);
    await assert.rejects(ch.set("big", -big * 10n), /BigInt of more than 1000000 digits/);
    assert.equal(await ch.get("big"), big);
  });

  test("ttlMs up to Number.MAX_SAFE_INTEGER is accepted; larger is a RangeError", async (ch) => {
    await ch.set("t", 1, { ttlMs: Number.MAX_SAFE_INTEGER });
    assert.equal(await ch.get("t"), 1);
    for (const ttlMs of [1e300, Number.MAX_SAFE_INTEGER + 2, Infinity, NaN]) {
      await assert.rejects(ch.set("u", 1, { ttlMs }), RangeError, String(ttlMs));
    }
    assert.equal(await ch.has("u"), false);
  });

  test("increment keeps -0 and reaches Infinity exactly as JavaScript does", async (ch) => {
    await ch.set("nz", -0);
    assert.ok(Object.is(await ch.increment("nz", -0), -0));
    assert.ok(Object.is(await ch.get("nz"), -0));
    assert.ok(Object.is(await ch.increment("pz", -0), 0));
    assert.equal(await ch.increment("inf", 1e308), 1e308);
    assert.equal(await ch.increment("inf", 1e308), Infinity);
    assert.equal(await ch.increment("inf", -1e308), Infinity);
    assert.equal(await ch.increment("ninf", -1e308), -1e308);
    assert.equal(await ch.increment("ninf", -1e308), -Infinity);
  });
}

function nest(levels: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

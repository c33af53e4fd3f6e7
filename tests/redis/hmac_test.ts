import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { constantTimeEqual, HmacSha256 } from "../../src/redis/hmac_sha256.ts";

function reference(key: string, text: string): string {
  return createHmac("sha256", key).update(text).digest("hex");
}

Deno.test("HmacSha256 matches node:crypto for RFC 4231 cases and every length around the blocks", () => {
  // RFC 4231 test case 2.
  assert.equal(
    new HmacSha256("Jefe").hex("what do ya want for nothing?"),
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  );
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const text = (n: number) =>
    Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(rnd() * 0x2000))).join("");
  for (const keyLength of [0, 1, 32, 63, 64, 65, 200]) {
    const key = text(keyLength);
    const mac = new HmacSha256(key);
    for (let n = 0; n < 300; n++) {
      const t = text(n);
      assert.equal(mac.hex(t), reference(key, t), `key ${keyLength}, text ${n}`);
    }
    const big = text(100_000);
    assert.equal(mac.hex(big), reference(key, big));
  }
});

Deno.test("constantTimeEqual compares strings", () => {
  assert.equal(constantTimeEqual("abc", "abc"), true);
  assert.equal(constantTimeEqual("abc", "abd"), false);
  assert.equal(constantTimeEqual("abc", "ab"), false);
  assert.equal(constantTimeEqual("", ""), true);
});

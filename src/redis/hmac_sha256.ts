/**
 * HMAC-SHA256 (RFC 2104, FIPS 180-4) in plain TypeScript, with the key's inner and outer pads
 * hashed once per key. It exists for speed: every message on the Redis path is signed or checked
 * (four per task), and `node:crypto`'s `createHmac` costs about 65 µs a call under Deno (a new
 * object per message) against a few µs here; WebCrypto is asynchronous and slower still for
 * small messages. Checked against `node:crypto` in `tests/redis/hmac_test.ts`.
 *
 * @module
 */

const K = new Int32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);
const IV = new Int32Array([
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
]);
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const encoder = new TextEncoder();

/**
 * Hashes whole 64-byte blocks of `bytes` from `at` into `state` (all in int32 arithmetic: every
 * sum is truncated with `| 0`, so V8 never falls back to floating point).
 */
function compress(
  state: Int32Array,
  w: Int32Array,
  bytes: Uint8Array,
  at: number,
  end: number,
): void {
  let a, b, c, d, e, f, g, h, u, t1, t2;
  for (let pos = at; pos + 64 <= end; pos += 64) {
    for (let i = 0; i < 16; i++) {
      const j = pos + 4 * i;
      w[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
    }
    for (let i = 16; i < 64; i++) {
      u = w[i - 2];
      t1 = ((u >>> 17) | (u << 15)) ^ ((u >>> 19) | (u << 13)) ^ (u >>> 10);
      u = w[i - 15];
      t2 = ((u >>> 7) | (u << 25)) ^ ((u >>> 18) | (u << 14)) ^ (u >>> 3);
      w[i] = (((t1 + w[i - 7]) | 0) + ((t2 + w[i - 16]) | 0)) | 0;
    }
    a = state[0];
    b = state[1];
    c = state[2];
    d = state[3];
    e = state[4];
    f = state[5];
    g = state[6];
    h = state[7];
    for (let i = 0; i < 64; i++) {
      t1 = (((((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
        ((e & f) ^ (~e & g))) | 0) + ((h + ((K[i] + w[i]) | 0)) | 0);
      t1 |= 0;
      t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
        ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    state[0] = (state[0] + a) | 0;
    state[1] = (state[1] + b) | 0;
    state[2] = (state[2] + c) | 0;
    state[3] = (state[3] + d) | 0;
    state[4] = (state[4] + e) | 0;
    state[5] = (state[5] + f) | 0;
    state[6] = (state[6] + g) | 0;
    state[7] = (state[7] + h) | 0;
  }
}

/** HMAC-SHA256 with one key. */
export class HmacSha256 {
  readonly #inner = new Int32Array(8);
  readonly #outer = new Int32Array(8);
  readonly #w = new Int32Array(64);
  readonly #state = new Int32Array(8);
  readonly #tail = new Uint8Array(128);
  #buf = new Uint8Array(1024);
  /** The last digest (the inner hash, then the MAC). */
  readonly #inner32 = new Uint8Array(32);

  /**
   * Prepares the key (hashed first when longer than a block, as RFC 2104 says).
   *
   * @param key The key (UTF-8 of a string).
   */
  constructor(key: string) {
    let k: Uint8Array = encoder.encode(key);
    if (k.length > 64) {
      this.#digest(IV, 0, k, k.length);
      k = this.#inner32.slice();
    }
    const pad = new Uint8Array(64);
    for (const [state, byte] of [[this.#inner, 0x36], [this.#outer, 0x5c]] as const) {
      pad.fill(byte);
      for (let i = 0; i < k.length; i++) pad[i] = k[i] ^ byte;
      state.set(IV);
      compress(state, this.#w, pad, 0, 64);
    }
  }

  /**
   * The MAC of a text.
   *
   * @param text The message (hashed as UTF-8).
   * @returns Lower-case hex, 64 characters.
   */
  hex(text: string): string {
    const length = this.#utf8(text); // first: it may grow the buffer
    this.#digest(this.#inner, 64, this.#buf, length);
    this.#digest(this.#outer, 64, this.#inner32, 32);
    const mac = this.#inner32;
    let out = "";
    for (let i = 0; i < 32; i++) out += HEX[mac[i]];
    return out;
  }

  /** Writes the UTF-8 of `text` into the reused buffer (ASCII directly); returns its length. */
  #utf8(text: string): number {
    const n = text.length;
    if (this.#buf.length < 3 * n) this.#buf = new Uint8Array(3 * n);
    const buf = this.#buf;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) return i + encoder.encodeInto(text.slice(i), buf.subarray(i)).written;
      buf[i] = c;
    }
    return n;
  }

  /**
   * SHA-256 of `data[0..length)`, continuing from `from` after `done` bytes (a multiple of 64),
   * into `#inner32`.
   */
  #digest(from: Int32Array, done: number, data: Uint8Array, length: number): void {
    const state = this.#state;
    state.set(from);
    const full = length - (length % 64);
    compress(state, this.#w, data, 0, full);
    const tail = this.#tail;
    tail.fill(0);
    const rest = length - full;
    for (let i = 0; i < rest; i++) tail[i] = data[full + i];
    tail[rest] = 0x80;
    const end = rest + 9 > 64 ? 128 : 64;
    const bits = (done + length) * 8;
    // 64-bit big-endian length (messages stay far below 2^53 bits).
    const high = Math.floor(bits / 0x100000000);
    tail[end - 8] = high >>> 24;
    tail[end - 7] = high >>> 16;
    tail[end - 6] = high >>> 8;
    tail[end - 5] = high;
    tail[end - 4] = bits >>> 24;
    tail[end - 3] = bits >>> 16;
    tail[end - 2] = bits >>> 8;
    tail[end - 1] = bits;
    compress(state, this.#w, tail, 0, end);
    const out = this.#inner32;
    for (let i = 0; i < 8; i++) {
      const v = state[i];
      out[4 * i] = v >>> 24;
      out[4 * i + 1] = v >>> 16;
      out[4 * i + 2] = v >>> 8;
      out[4 * i + 3] = v;
    }
  }
}

/**
 * Compares two strings in time that depends only on their lengths.
 *
 * @param a One string.
 * @param b The other.
 * @returns Whether they are equal.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

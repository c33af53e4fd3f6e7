/**
 * Reads what a container (or a subprocess of the process pool) writes: demultiplexes the Docker
 * attach stream (8-byte headers, stdout and stderr), finds protocol frames on stdout, and keeps
 * the last lines of everything else for error messages. Frames larger than the limit are refused before they are buffered whole.
 *
 * @module
 */
import { FRAME_MARKER } from "./protocol.ts";

/** Which stream a line of container output came from. */
export type OutputStream = "stdout" | "stderr";

/** Options of {@linkcode ContainerOutput}. */
export interface ContainerOutputOptions {
  /** Largest frame accepted, in bytes (the JSON after the marker). */
  maxFrameBytes: number;
  /** Receives each frame's JSON text. */
  onFrame(json: string): void;
  /** Receives each line the task printed (without the `\n`). */
  onLog?(stream: OutputStream, line: string): void;
}

/** A frame was larger than {@linkcode ContainerOutputOptions.maxFrameBytes}. */
export class FrameTooLargeError extends RangeError {
  /** Bytes seen when the frame was refused (at least the limit + 1). */
  readonly bytes: number;

  /**
   * Creates the instance.
   *
   * @param bytes Bytes seen so far.
   * @param limit The limit.
   */
  constructor(bytes: number, limit: number) {
    super(`Cannot accept container output: a message of more than ${limit} bytes (${bytes} seen)`);
    this.name = "FrameTooLargeError";
    this.bytes = bytes;
  }
}

const MARKER = new TextEncoder().encode(FRAME_MARKER);
const TAIL_LINES = 20;
const TAIL_LINE_CHARS = 1000;
const decoder = new TextDecoder();

function indexOfMarker(bytes: Uint8Array, from = 0): number {
  for (let i = bytes.indexOf(MARKER[0], from); i >= 0; i = bytes.indexOf(MARKER[0], i + 1)) {
    let j = 1;
    while (j < MARKER.length && bytes[i + j] === MARKER[j]) j++;
    if (j === MARKER.length) return i;
  }
  return -1;
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Collects one stream's bytes into lines. */
class Lines {
  parts: Uint8Array[] = [];
  length = 0;
  readonly tail: string[] = [];

  add(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  take(): Uint8Array {
    const line = concat(this.parts, this.length);
    this.parts = [];
    this.length = 0;
    return line;
  }

  remember(line: string): void {
    if (!line) return;
    this.tail.push(line.length > TAIL_LINE_CHARS ? line.slice(0, TAIL_LINE_CHARS) + "…" : line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
  }
}

/** Parses a container's attach stream (no TTY) as it arrives. */
export class ContainerOutput {
  readonly #options: ContainerOutputOptions;
  readonly #out = new Lines();
  readonly #err = new Lines();
  #header = new Uint8Array(8);
  #headerFill = 0;
  #remaining = 0;
  #stream: OutputStream = "stdout";

  /**
   * Creates the parser.
   *
   * @param options Frame limit and receivers.
   */
  constructor(options: ContainerOutputOptions) {
    this.#options = options;
  }

  /**
   * Feeds bytes from the attach stream.
   *
   * @param chunk The bytes.
   * @throws {FrameTooLargeError} When a frame exceeds the limit.
   */
  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#remaining === 0) {
        const n = Math.min(8 - this.#headerFill, chunk.length - i);
        this.#header.set(chunk.subarray(i, i + n), this.#headerFill);
        this.#headerFill += n;
        i += n;
        if (this.#headerFill < 8) return;
        this.#headerFill = 0;
        this.#stream = this.#header[0] === 2 ? "stderr" : "stdout";
        this.#remaining = new DataView(this.#header.buffer).getUint32(4);
        continue;
      }
      const n = Math.min(this.#remaining, chunk.length - i);
      this.#payload(chunk.subarray(i, i + n));
      this.#remaining -= n;
      i += n;
    }
  }

  /**
   * Feeds bytes of one stream that is not multiplexed (a subprocess's stdout or stderr).
   *
   * @param stream Which stream they came from.
   * @param chunk The bytes.
   * @throws {FrameTooLargeError} When a frame exceeds the limit.
   */
  pushStream(stream: OutputStream, chunk: Uint8Array): void {
    const before = this.#stream;
    this.#stream = stream;
    try {
      this.#payload(chunk);
    } finally {
      this.#stream = before;
    }
  }

  /** Flushes a last line without `\n` (call when the stream ended). */
  end(): void {
    if (this.#out.length) this.#line("stdout", this.#out.take());
    if (this.#err.length) this.#line("stderr", this.#err.take());
  }

  /**
   * The last lines the task printed on a stream.
   *
   * @param stream Which stream.
   * @returns Up to 20 lines (each cut at 1,000 characters).
   */
  tail(stream: OutputStream): string[] {
    return [...(stream === "stderr" ? this.#err : this.#out).tail];
  }

  #payload(bytes: Uint8Array): void {
    const lines = this.#stream === "stderr" ? this.#err : this.#out;
    let start = 0;
    for (let nl = bytes.indexOf(10); nl >= 0; nl = bytes.indexOf(10, start)) {
      lines.add(bytes.subarray(start, nl));
      this.#line(this.#stream, lines.take());
      start = nl + 1;
    }
    if (start < bytes.length) lines.add(bytes.slice(start));
    if (lines.length > this.#options.maxFrameBytes + MARKER.length) this.#overlong(lines);
  }

  /** A line without its end grew past the limit: refuse it if it is a frame, else log it. */
  #overlong(lines: Lines): void {
    const stream = lines === this.#err ? "stderr" : "stdout";
    const bytes = lines.take();
    const at = stream === "stdout" ? indexOfMarker(bytes) : -1;
    if (at < 0) return this.#log(stream, bytes);
    const frameBytes = bytes.length - at - MARKER.length;
    if (frameBytes > this.#options.maxFrameBytes) {
      throw new FrameTooLargeError(frameBytes, this.#options.maxFrameBytes);
    }
    if (at > 0) this.#log(stream, bytes.subarray(0, at));
    lines.add(bytes.slice(at));
  }

  #line(stream: OutputStream, bytes: Uint8Array): void {
    const at = stream === "stdout" ? indexOfMarker(bytes) : -1;
    if (at < 0) return this.#log(stream, bytes);
    if (at > 0) this.#log(stream, bytes.subarray(0, at));
    const json = bytes.subarray(at + MARKER.length);
    if (json.length > this.#options.maxFrameBytes) {
      throw new FrameTooLargeError(json.length, this.#options.maxFrameBytes);
    }
    this.#options.onFrame(decoder.decode(json));
  }

  #log(stream: OutputStream, bytes: Uint8Array): void {
    const text = decoder.decode(bytes);
    (stream === "stderr" ? this.#err : this.#out).remember(text);
    this.#options.onLog?.(stream, text);
  }
}

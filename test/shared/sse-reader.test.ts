import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readSse, type SseEvent } from "../../src/core/sse-reader.ts";
import { encodeSseEvents, type OutgoingSseEvent } from "../../src/core/sse-writer.ts";
import { collect } from "../support/sse.ts";

const encoder = new TextEncoder();

/** A body that delivers `bytes` cut at `cuts` (byte offsets, anywhere: inside a line or a UTF-8 character). */
function bodyOf(bytes: Uint8Array, cuts: number[] = []): ReadableStream<Uint8Array> {
  const ends = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const end of [...ends, bytes.length]) {
    chunks.push(bytes.subarray(start, end));
    start = end;
  }
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

const read = (text: string, cuts: number[] = []) => collect(readSse(bodyOf(encoder.encode(text), cuts)));

/** Every rule the reader has to get right, in one stream. */
const CORPUS =
  ": a comment\n\n" +
  'id: 1\nevent: Token\ndata: {"text":"héllo ✓"}\n\n' +
  "data: no event name, no id\n\n" +
  "id: 2\r\nevent: Token\r\ndata: a\r\ndata:b\r\n\r\n" +
  "id: 3\revent: Token\rdata:  two spaces\r\r" +
  "event: nothing to dispatch\n\n" +
  "id: 4\nretry: 10\nunknown: field\ndata\n\n" +
  "event: done\ndata: {}\n\n";
const EXPECTED: SseEvent[] = [
  { id: "1", event: "Token", data: '{"text":"héllo ✓"}' },
  { event: "message", data: "no event name, no id" },
  { id: "2", event: "Token", data: "a\nb" },
  { id: "3", event: "Token", data: " two spaces" },
  { id: "4", event: "message", data: "" },
  { event: "done", data: "{}" },
];

describe("readSse", () => {
  it("ids only where sent, the default event name, multi-line data, CRLF and CR, comments, bare fields", async () => {
    expect(await read(CORPUS)).toEqual(EXPECTED);
  });

  it("yields the same events however the bytes are cut into chunks", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 40 }), async (cuts) => {
        expect(await read(CORPUS, cuts)).toEqual(EXPECTED);
      }),
    );
  });

  it("keeps CRLF split across two chunks one line break, not an empty line that dispatches", async () => {
    const text = "id: 1\r\ndata: a\r\ndata: b\r\n\r\n";
    expect(await read(text, [text.indexOf("\n")])).toEqual([{ id: "1", event: "message", data: "a\nb" }]);
  });

  it("drops an event the stream cut off before its blank line", async () => {
    expect(await read("id: 1\ndata: whole\n\nid: 2\ndata: cut")).toEqual([
      { id: "1", event: "message", data: "whole" },
    ]);
    expect(await read("id: 1\ndata: whole\n\nid: 2\ndata: cut\n")).toEqual([
      { id: "1", event: "message", data: "whole" },
    ]);
    expect(await read("")).toEqual([]);
  });

  it("cancels the body when the consumer stops early", async () => {
    let canceled = false;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode("id: 1\ndata: first\n\n"));
      },
      cancel() {
        canceled = true;
      },
    });
    for await (const event of readSse(body)) {
      expect(event).toEqual({ id: "1", event: "message", data: "first" });
      break;
    }
    expect(canceled).toBe(true);
  });

  it("reads back what the writer wrote, cut anywhere (data line breaks come back as \\n)", async () => {
    const data = fc
      .array(fc.oneof(fc.string({ unit: "grapheme" }), fc.constantFrom("\n", "\r", "\r\n", " ", ":")))
      .map((parts) => parts.join(""));
    const event = fc.record(
      { id: fc.nat(), event: fc.stringMatching(/^[A-Za-z]{1,12}$/), data },
      { requiredKeys: ["event", "data"] },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(event, { maxLength: 8 }), fc.array(fc.nat()), async (events, cuts) => {
        const read = await collect(readSse(bodyOf(encodeSseEvents(events as OutgoingSseEvent[]), cuts)));
        expect(read).toEqual(
          events.map(({ id, event, data }) => ({
            ...(id === undefined ? {} : { id: String(id) }),
            event,
            data: data.replace(/\r\n|\r|\n/g, "\n"),
          })),
        );
      }),
    );
  });
});

import { describe, expect, it } from "vitest";
import { encodeSseEvents, formatSseEvent, openSseStream } from "../../src/core/sse-writer.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

async function readAll(body: ReadableStream<Uint8Array>): Promise<string> {
  let all = "";
  for await (const chunk of body) all += new TextDecoder().decode(chunk, { stream: true });
  return all;
}

describe("formatSseEvent", () => {
  it("a stored event: id, then event, then data, then a blank line", () => {
    expect(formatSseEvent({ id: 7, event: "Token", data: '{"kind":"Token"}' })).toBe(
      'id: 7\nevent: Token\ndata: {"kind":"Token"}\n\n',
    );
    expect(formatSseEvent({ id: "8", event: "Ack", data: "{}" })).toBe("id: 8\nevent: Ack\ndata: {}\n\n");
  });

  it("an event without id (the terminal done) has no id line", () => {
    expect(formatSseEvent({ event: "done", data: '{"status":"success"}' })).toBe(
      'event: done\ndata: {"status":"success"}\n\n',
    );
    expect(formatSseEvent({ id: undefined, event: "done", data: "" })).toBe("event: done\ndata: \n\n");
  });

  it("multi-line data: one data line per line, whichever the line break", () => {
    expect(formatSseEvent({ id: 1, event: "x", data: "a\nb\r\nc\rd\n" })).toBe(
      "id: 1\nevent: x\ndata: a\ndata: b\ndata: c\ndata: d\ndata: \n\n",
    );
  });

  it("idAfterEvent: the processor's legacy order, event then id", () => {
    expect(formatSseEvent({ id: 0, event: "progress", data: "{}" }, { idAfterEvent: true })).toBe(
      "event: progress\nid: 0\ndata: {}\n\n",
    );
    expect(formatSseEvent({ event: "done", data: "{}" }, { idAfterEvent: true })).toBe(
      "event: done\ndata: {}\n\n",
    );
  });

  it("refuses an event name or id with a line break, which would forge fields", () => {
    for (const event of [
      { event: "Token\ndata: forged", data: "{}" },
      { event: "Token\r", data: "{}" },
      { id: "1\nevent: forged", event: "Token", data: "{}" },
    ])
      expect(() => formatSseEvent(event)).toThrow(
        expect.objectContaining({ name: "TheoryError", code: "ERR_INTERNAL" }),
      );
  });
});

describe("encodeSseEvents", () => {
  it("formats every event in order into one UTF-8 chunk", () => {
    const bytes = encodeSseEvents([
      { id: 1, event: "Token", data: '{"text":"héllo ✓"}' },
      { event: "done", data: "{}" },
    ]);
    expect(text(bytes)).toBe('id: 1\nevent: Token\ndata: {"text":"héllo ✓"}\n\nevent: done\ndata: {}\n\n');
    expect(encodeSseEvents([])).toEqual(new Uint8Array());
  });
});

describe("openSseStream", () => {
  it("delivers what was written, in order, and ends when closed", async () => {
    const stream = openSseStream();
    void stream.write(encodeSseEvents([{ id: 1, event: "Ack", data: "{}" }]));
    void stream.write(encodeSseEvents([{ event: "done", data: "{}" }]));
    void stream.close();
    expect(await readAll(stream.responseReadable)).toBe(
      "id: 1\nevent: Ack\ndata: {}\n\nevent: done\ndata: {}\n\n",
    );
    expect(stream.closed).toBe(true);
  });

  it("tells its owner when the reader goes away; later writes are dropped, not thrown", async () => {
    const stream = openSseStream();
    let aborted = 0;
    stream.onAbort(() => {
      aborted++;
    });
    const reader = stream.responseReadable.getReader();
    void stream.write(encodeSseEvents([{ id: 1, event: "Ack", data: "{}" }]));
    expect(text((await reader.read()).value as Uint8Array)).toBe("id: 1\nevent: Ack\ndata: {}\n\n");
    await reader.cancel();
    expect(aborted).toBe(1);
    expect(stream.aborted).toBe(true);
    await expect(stream.write(encodeSseEvents([{ id: 2, event: "Token", data: "{}" }]))).resolves.toBe(
      stream,
    );
  });
});

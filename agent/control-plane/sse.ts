/** One server-sent event: `id` (absent when the server sent none), `event` (default "message"), `data`. */
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/**
 * Parses a `text/event-stream` body into events (the WHATWG rules the control plane needs: `id:`,
 * `event:`, multi-line `data:`, comments, CRLF or LF, one optional space after the colon). An event
 * cut off by the end of the stream is dropped, as a browser would.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  let id: string | undefined;
  let event = "";
  let data: string[] = [];
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline = buffer.search(/\r\n|\r|\n/);
    while (newline !== -1) {
      const line = buffer.slice(0, newline);
      const width = buffer.startsWith("\r\n", newline) ? 2 : 1;
      // A lone \r at the end of a chunk may be the first half of \r\n: wait for more.
      if (buffer[newline] === "\r" && width === 1 && newline === buffer.length - 1) break;
      buffer = buffer.slice(newline + width);
      if (line === "") {
        if (data.length > 0)
          yield { ...(id !== undefined ? { id } : {}), event: event || "message", data: data.join("\n") };
        event = "";
        data = [];
        id = undefined;
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "data") data.push(value);
        else if (field === "event") event = value;
        else if (field === "id" && !value.includes("\0")) id = value;
      }
      newline = buffer.search(/\r\n|\r|\n/);
    }
  }
}

import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/core/log.ts";
import { newProcessorToken } from "../../src/core/processor-auth.ts";
import { REDACTED, redact } from "../../src/core/redact.ts";

describe("redaction", () => {
  it("hides sensitive keys, bearer tokens, presigned signatures and known secret values", () => {
    const out = redact(
      {
        authorization: "Bearer abc.def",
        nested: { api_key: "k", LITELLM_API_KEY: "sk-live-123456" },
        note: "called with Bearer sk-abc and sk-live-123456",
        url: "https://s3.test/b/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=deadbeef&x-id=PutObject",
        list: ["sk-live-123456"],
      },
      ["sk-live-123456"],
    );
    const text = JSON.stringify(out);
    expect(text).not.toContain("abc.def");
    expect(text).not.toContain("sk-abc");
    expect(text).not.toContain("sk-live-123456");
    expect(text).not.toContain("deadbeef");
    expect(text).not.toContain("AKIA");
    expect(text).toContain("x-id=PutObject");
    expect((out as { nested: { api_key: string } }).nested.api_key).toBe(REDACTED);
  });

  it("hides a generated processor token anywhere, its value unknown to the logger", () => {
    const token = newProcessorToken();
    const text = JSON.stringify(redact({ note: `dialing with ${token}.`, list: [`x ${token}`] }));
    expect(text).not.toContain(token.slice(4));
    expect(text).toContain(`dialing with ${REDACTED}.`);
  });

  it("hides URL userinfo: neither the user nor the password survives", () => {
    const text = JSON.stringify(
      redact({
        url: "https://alice:s3cr3t-pw@db.example.com:5432/x?y=1",
        note: "dialing wss://bob@tunnel.example.com/run failed; see http://carol:p%40ss@h/ and mail dave@example.com",
      }),
    );
    for (const secret of ["alice", "s3cr3t-pw", "bob", "carol", "p%40ss"]) expect(text).not.toContain(secret);
    expect(text).toContain("https://[REDACTED]@db.example.com:5432/x?y=1");
    expect(text).toContain("wss://[REDACTED]@tunnel.example.com/run");
    expect(text).toContain("dave@example.com");
  });

  it("leaves ordinary data alone", () => {
    const data = { ref: "llm/litellm@1", count: 3, ok: true, none: null, tags: ["a"] };
    expect(redact(data)).toEqual(data);
  });
});

describe("NDJSON logger", () => {
  const capture = () => {
    const lines: string[] = [];
    const clock = () => new Date("2026-01-02T03:04:05.000Z");
    return {
      lines,
      logger: createLogger({ sink: (line) => lines.push(line), clock, secrets: ["hunter2-secret"] }),
    };
  };

  it("writes one JSON object per line with ts, level, event and the canon fields", () => {
    const { lines, logger } = capture();
    logger
      .child({ target: "modal", ref: "llm/litellm@1" })
      .info("ws.connect.ok", { execution_id: "run-1", elapsed_ms: 12 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain("\n");
    expect(JSON.parse(lines[0] as string)).toEqual({
      ts: "2026-01-02T03:04:05.000Z",
      level: "info",
      event: "ws.connect.ok",
      target: "modal",
      ref: "llm/litellm@1",
      execution_id: "run-1",
      elapsed_ms: 12,
    });
  });

  it("never logs a secret, and fields cannot forge the head", () => {
    const { lines, logger } = capture();
    logger.error("error.auth", {
      token: "t0k3n",
      detail: "key hunter2-secret rejected",
      event: "forged",
      level: "debug",
    });
    const line = JSON.parse(lines[0] as string);
    expect(line.event).toBe("error.auth");
    expect(line.level).toBe("error");
    expect(lines[0]).not.toContain("t0k3n");
    expect(lines[0]).not.toContain("hunter2-secret");
  });

  it("drops events below the level", () => {
    const lines: string[] = [];
    const logger = createLogger({ sink: (line) => lines.push(line), level: "warn" });
    logger.info("quiet");
    logger.warn("loud");
    expect(lines.map((l) => JSON.parse(l).event)).toEqual(["loud"]);
  });
});

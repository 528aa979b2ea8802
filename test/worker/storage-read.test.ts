import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import type { ObjectStore } from "../../src/worker/storage/index.ts";
import { R2ObjectStore } from "../../src/worker/storage/r2.ts";
import { S3ObjectStore } from "../../src/worker/storage/s3.ts";

// Streaming reads (GET /v1/runs/{id}/outputs/{path}) on both stores: storage.test.ts covers the rest.
const TEXT = "0123456789abcdefghij";

const stores: [string, () => ObjectStore][] = [
  ["R2", () => new R2ObjectStore(env.ARTIFACTS)],
  [
    "S3",
    () =>
      new S3ObjectStore({
        endpoint: inject("s3Endpoint"),
        region: "us-east-1",
        bucket: "theory",
        accessKeyId: "S3RVER",
        secretAccessKey: "S3RVER",
      }),
  ],
];

describe.each(stores)("%s store: read", (_name, make) => {
  const store = make();
  const freshKey = (name: string) => `dev/${crypto.randomUUID()}/${name}`;

  it("streams the whole object with its ETag, size and content type", async () => {
    const key = freshKey("text/response.txt");
    const { etag } = await store.put(key, new TextEncoder().encode(TEXT), "text/plain");
    const reader = await store.read(key);
    expect(reader).toMatchObject({ etag, size: TEXT.length, contentType: "text/plain" });
    expect(reader?.body).toBeInstanceOf(ReadableStream);
    expect(await new Response(reader?.body).text()).toBe(TEXT);
    expect(etag).toMatch(/^[a-f0-9]{32}$/);
  });

  it("streams a range, still telling the whole object's size", async () => {
    const key = freshKey("range.txt");
    await store.put(key, new TextEncoder().encode(TEXT), "text/plain");
    const reader = await store.read(key, { offset: 5, length: 4 });
    expect(reader?.size).toBe(TEXT.length);
    expect(await new Response(reader?.body).text()).toBe("5678");
  });

  it("answers null for a missing key", async () => {
    expect(await store.read(freshKey("missing"))).toBeNull();
  });
});

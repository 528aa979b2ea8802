import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { TheoryError } from "../../src/core/errors.ts";
import { type ControlPlaneConfig, resolveConfig, type S3Settings } from "../../src/worker/config.ts";
import { createObjectStore } from "../../src/worker/storage/index.ts";
import { R2ObjectStore } from "../../src/worker/storage/r2.ts";
import { S3ObjectStore } from "../../src/worker/storage/s3.ts";

// MD5 is not in WebCrypto: expected ETags are the precomputed MD5 of fixed contents.
const BINARY = Uint8Array.from({ length: 256 }, (_, i) => i);
const BINARY_MD5 = "e2c865db4162bed963bfaa9ef6ac18f0";
const TEXT = "processor bytes";
const TEXT_MD5 = "8ccb070342f9110b3966d4d95c59e52c";
const EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e";

const encoder = new TextEncoder();

/** The S3 settings of the s3rver the global setup started (bucket "theory"). */
function s3Settings(overrides: Partial<S3Settings> = {}): S3Settings {
  return {
    endpoint: inject("s3Endpoint"),
    region: "us-east-1",
    bucket: "theory",
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    ...overrides,
  };
}

/** A key no other test (or earlier run against the shared s3rver) has used. */
const freshKey = (name: string) => `dev/${crypto.randomUUID()}/${name}`;

async function theoryError(promise: Promise<unknown>): Promise<TheoryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TheoryError);
  return error as TheoryError;
}

const CHECKSUM_PARAM = /^x-amz-(checksum-|sdk-checksum-algorithm)/i;

/** Deletes the named objects, leaves a neighbour alone, and takes a key with no object in stride. */
async function deleteCase(store: R2ObjectStore | S3ObjectStore) {
  const run = `dev/${crypto.randomUUID()}`;
  const keys = [`${run}/envelope.json`, `${run}/receipt.json`, `${run}/text/response.txt`];
  for (const key of keys) await store.put(key, encoder.encode(TEXT), "text/plain");
  const neighbour = `${run}/outputs.json`;
  await store.put(neighbour, encoder.encode(TEXT), "text/plain");
  await store.delete([...keys, `${run}/never-written.txt`]);
  for (const key of keys) expect(await store.head(key)).toBeNull();
  expect(await store.head(neighbour)).toEqual({ etag: TEXT_MD5, size: TEXT.length });
  await store.delete(keys);
}

describe("R2 store (ARTIFACTS binding)", () => {
  const store = new R2ObjectStore(env.ARTIFACTS);

  it("round-trips bytes with the MD5 ETag, unquoted, and keeps the content type", async () => {
    const key = freshKey("blob.bin");
    expect(await store.put(key, BINARY, "application/octet-stream")).toEqual({ etag: BINARY_MD5 });
    expect(await store.get(key)).toEqual({ bytes: BINARY, etag: BINARY_MD5 });
    expect(await store.head(key)).toEqual({ etag: BINARY_MD5, size: 256 });
    expect((await env.ARTIFACTS.head(key))?.httpMetadata?.contentType).toBe("application/octet-stream");
  });

  it("overwrites a key: the second put's bytes and ETag win", async () => {
    const key = freshKey("text/response.txt");
    await store.put(key, BINARY, "application/octet-stream");
    expect(await store.put(key, encoder.encode(TEXT), "text/plain")).toEqual({ etag: TEXT_MD5 });
    expect(await store.get(key)).toEqual({ bytes: encoder.encode(TEXT), etag: TEXT_MD5 });
  });

  it("stores an empty object", async () => {
    const key = freshKey("empty");
    expect(await store.put(key, new Uint8Array(), "text/plain")).toEqual({ etag: EMPTY_MD5 });
    expect(await store.head(key)).toEqual({ etag: EMPTY_MD5, size: 0 });
  });

  it("deletes the objects it is given, and only those", () => deleteCase(store));

  it("answers null for a missing key on get and head", async () => {
    const key = freshKey("missing");
    expect(await store.get(key)).toBeNull();
    expect(await store.head(key)).toBeNull();
  });

  it("turns a binding failure into ERR_INTERNAL without echoing the key", async () => {
    const key = `dev/${"k".repeat(1100)}`; // over R2's 1024-byte key limit
    const error = await theoryError(store.put(key, BINARY, "application/octet-stream"));
    expect(error.code).toBe("ERR_INTERNAL");
    expect(error.message).not.toContain("kkkk");
  });

  it("refuses to presign without S3 settings: ERR_INPUTS", async () => {
    const error = await theoryError(store.presignPut(freshKey("out.txt"), 300));
    expect(error.code).toBe("ERR_INPUTS");
    expect(error.message).toBe("world scope needs S3_* settings for presigned URLs");
  });

  it("presigns through the S3 settings: a PUT URL for the configured endpoint, bucket and key", async () => {
    const settings = s3Settings();
    const key = freshKey("text/response.txt");
    const url = new URL(await new R2ObjectStore(env.ARTIFACTS, settings).presignPut(key, 300));
    expect(url.origin).toBe(new URL(settings.endpoint).origin);
    expect(url.pathname).toBe(`/theory/${key}`);
    expect(url.searchParams.get("X-Amz-Expires")).toBe("300");
    expect(url.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
    expect([...url.searchParams.keys()].filter((name) => CHECKSUM_PARAM.test(name))).toEqual([]);
  });
});

describe("S3 store (s3rver on loopback)", () => {
  const store = new S3ObjectStore(s3Settings());

  it("round-trips bytes with the MD5 ETag, unquoted, and keeps the content type", async () => {
    const key = freshKey("blob.bin");
    expect(await store.put(key, BINARY, "application/octet-stream")).toEqual({ etag: BINARY_MD5 });
    expect(await store.get(key)).toEqual({ bytes: BINARY, etag: BINARY_MD5 });
    expect(await store.head(key)).toEqual({ etag: BINARY_MD5, size: 256 });
    // s3rver serves unsigned reads, which shows what was stored beside the object.
    const raw = await fetch(`${inject("s3Endpoint")}/theory/${key}`);
    expect(raw.headers.get("content-type")).toBe("application/octet-stream");
    await raw.body?.cancel();
  });

  it("deletes the objects it is given, and only those", () => deleteCase(store));

  it("answers null for a missing key on get and head", async () => {
    const key = freshKey("missing");
    expect(await store.get(key)).toBeNull();
    expect(await store.head(key)).toBeNull();
  });

  it("fails put and get against a bucket that does not exist with ERR_INTERNAL, no URL or credentials", async () => {
    const missing = new S3ObjectStore(s3Settings({ bucket: "no-such-bucket" }));
    for (const attempt of [
      () => missing.put(freshKey("x"), BINARY, "application/octet-stream"),
      () => missing.get(freshKey("x")),
    ]) {
      const error = await theoryError(attempt());
      expect(error.code).toBe("ERR_INTERNAL");
      expect(error.message).toContain("NoSuchBucket");
      expect(error.message).not.toContain("127.0.0.1");
      expect(error.message).not.toContain("S3RVER");
    }
  });

  it("reads head against a missing bucket as a missing object (a HEAD 404 carries no error code)", async () => {
    const missing = new S3ObjectStore(s3Settings({ bucket: "no-such-bucket" }));
    expect(await missing.head(freshKey("x"))).toBeNull();
  });

  it("fails with ERR_INTERNAL, not a hang, when nothing listens at the endpoint", async () => {
    const closed = new S3ObjectStore(s3Settings({ endpoint: "http://127.0.0.1:9" }));
    for (const attempt of [
      () => closed.put(freshKey("x"), BINARY, "text/plain"),
      () => closed.get(freshKey("x")),
      () => closed.head(freshKey("x")),
    ]) {
      const error = await theoryError(attempt());
      expect(error.code).toBe("ERR_INTERNAL");
      expect(error.message).not.toContain("127.0.0.1");
    }
  });

  it("presigns a PUT URL that a plain fetch uploads to; the object reads back with the same ETag", async () => {
    const key = freshKey("text/response.txt");
    const url = await store.presignPut(key, 300);
    const params = [...new URL(url).searchParams.keys()];
    expect(params.filter((name) => CHECKSUM_PARAM.test(name))).toEqual([]);
    expect(params).toContain("X-Amz-Signature");

    const response = await fetch(url, { method: "PUT", body: TEXT });
    expect(response.status).toBe(200);
    expect(response.headers.get("etag")).toBe(`"${TEXT_MD5}"`);
    await response.body?.cancel();
    expect(await store.get(key)).toEqual({ bytes: encoder.encode(TEXT), etag: TEXT_MD5 });
    expect(await store.head(key)).toEqual({ etag: TEXT_MD5, size: TEXT.length });
  });

  it("presigns for up to seven days and refuses other expiries with ERR_INTERNAL", async () => {
    const url = new URL(await store.presignPut(freshKey("a"), 604_800));
    expect(url.searchParams.get("X-Amz-Expires")).toBe("604800");
    for (const expiry of [0, -1, 1.5, 604_801, Number.NaN]) {
      const error = await theoryError(store.presignPut(freshKey("a"), expiry));
      expect(error.code).toBe("ERR_INTERNAL");
    }
  });
});

describe("createObjectStore", () => {
  const base = (): ControlPlaneConfig => resolveConfig(env);
  const s3 = new S3ObjectStore(s3Settings());

  it('stores in the R2 binding when STORAGE is "r2"', async () => {
    const key = freshKey("envelope.json");
    const config: ControlPlaneConfig = { ...base(), storage: "r2", s3: s3Settings() };
    await createObjectStore(config, env.ARTIFACTS).put(key, encoder.encode(TEXT), "application/json");
    expect((await env.ARTIFACTS.head(key))?.etag).toBe(TEXT_MD5);
    expect(await s3.head(key)).toBeNull();
  });

  it('stores through the S3 API when STORAGE is "s3"', async () => {
    const key = freshKey("envelope.json");
    const config: ControlPlaneConfig = { ...base(), storage: "s3", s3: s3Settings() };
    await createObjectStore(config, env.ARTIFACTS).put(key, encoder.encode(TEXT), "application/json");
    expect(await s3.head(key)).toEqual({ etag: TEXT_MD5, size: TEXT.length });
    expect(await env.ARTIFACTS.head(key)).toBeNull();
  });

  it('refuses STORAGE "s3" without S3 settings with ERR_INTERNAL', () => {
    const { s3: _omitted, ...rest } = base();
    const config: ControlPlaneConfig = { ...rest, storage: "s3" };
    expect(() => createObjectStore(config, env.ARTIFACTS)).toThrow(
      expect.objectContaining({ name: "TheoryError", code: "ERR_INTERNAL" }),
    );
  });
});

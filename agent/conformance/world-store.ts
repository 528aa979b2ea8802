import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A stand-in for presigned PUT URLs, served on loopback for world-scope checks: it keeps the bytes
 * of each PUT and answers with the MD5 ETag, as S3 and R2 do for a single PUT. Each URL carries a
 * random secret, like a signature, so only the URLs the kit handed out are accepted.
 */
export interface WorldStore {
  /** The URL to PUT `key` to. */
  urlFor(key: string): string;
  /** The bytes stored under `key`, if any. */
  stored(key: string): Buffer | undefined;
  close(): Promise<void>;
}

export const md5Hex = (bytes: Uint8Array): string => createHash("md5").update(bytes).digest("hex");

export async function startWorldStore(): Promise<WorldStore> {
  const secret = randomBytes(12).toString("hex");
  const objects = new Map<string, Buffer>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://store");
    const key = decodeURIComponent(url.pathname.slice(1));
    if (req.method !== "PUT" || url.searchParams.get("signature") !== secret) {
      res.writeHead(403).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const bytes = Buffer.concat(chunks);
      objects.set(key, bytes);
      res.writeHead(200, { etag: `"${md5Hex(bytes)}"`, "content-length": 0 }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    urlFor: (key) => `http://127.0.0.1:${port}/${encodeURIComponent(key)}?signature=${secret}`,
    stored: (key) => objects.get(key),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

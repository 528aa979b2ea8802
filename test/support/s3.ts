import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import S3rver from "s3rver";

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  client: S3Client;
  presignPut(key: string): Promise<string>;
  etagOf(key: string): Promise<string>;
  text(key: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * A real S3-compatible server on loopback (s3rver). It stores objects and computes ETags like S3,
 * but does NOT verify signatures: tests here prove transport and ETags, never signature checks.
 */
export async function startS3(bucket = "theory"): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), "theory-s3-"));
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });
  return {
    endpoint,
    bucket,
    client,
    presignPut: (key) =>
      getSignedUrl(client, new PutObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 }),
    etagOf: async (key) =>
      ((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag ?? "").replaceAll(
        '"',
        "",
      ),
    text: async (key) =>
      (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString() ?? "",
    async close() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

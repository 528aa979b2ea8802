import { DurableObject } from "cloudflare:workers";
import type { EndpointRegistration } from "../src/contract/api.ts";

/** The endpoint directory: the Modal endpoints `modalctl start` registers, one row per ref. */
export class EndpointDirectory extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS endpoints (ref TEXT PRIMARY KEY, url TEXT NOT NULL, image_digest TEXT NOT NULL)",
    );
  }

  async put(ref: string, registration: EndpointRegistration): Promise<void> {
    this.ctx.storage.sql.exec(
      "INSERT INTO endpoints (ref, url, image_digest) VALUES (?, ?, ?) ON CONFLICT(ref) DO UPDATE SET url = excluded.url, image_digest = excluded.image_digest",
      ref,
      registration.url,
      registration.image_digest,
    );
  }

  async get(ref: string): Promise<EndpointRegistration | null> {
    const rows = this.ctx.storage.sql
      .exec<{ url: string; image_digest: string }>(
        "SELECT url, image_digest FROM endpoints WHERE ref = ?",
        ref,
      )
      .toArray();
    const row = rows[0];
    return row ? { url: row.url, image_digest: row.image_digest } : null;
  }

  async remove(ref: string): Promise<boolean> {
    return this.ctx.storage.sql.exec("DELETE FROM endpoints WHERE ref = ?", ref).rowsWritten > 0;
  }
}

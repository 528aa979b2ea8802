import { DurableObject } from "cloudflare:workers";
import type { EndpointRegistration } from "../src/contract/api.ts";

/**
 * One ref's entry of the endpoint directory (named by the ref): the URL and digest `modalctl start`
 * registered. One object per ref, so no single object sits on every run's path.
 */
export class EndpointDirectory extends DurableObject<Env> {
  #ensureTable(): void {
    this.ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS endpoint (id INTEGER PRIMARY KEY CHECK (id = 1), url TEXT NOT NULL, image_digest TEXT NOT NULL)",
    );
  }

  #hasTable(): boolean {
    return (
      this.ctx.storage.sql
        .exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'endpoint'")
        .toArray().length > 0
    );
  }

  async put(registration: EndpointRegistration): Promise<void> {
    this.#ensureTable();
    this.ctx.storage.sql.exec(
      "INSERT INTO endpoint (id, url, image_digest) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET url = excluded.url, image_digest = excluded.image_digest",
      registration.url,
      registration.image_digest,
    );
  }

  async get(): Promise<EndpointRegistration | null> {
    if (!this.#hasTable()) return null;
    const row = this.ctx.storage.sql
      .exec<{ url: string; image_digest: string }>("SELECT url, image_digest FROM endpoint WHERE id = 1")
      .toArray()[0];
    return row ? { url: row.url, image_digest: row.image_digest } : null;
  }

  /** True when there was a registration to remove; the object keeps no storage afterwards. */
  async remove(): Promise<boolean> {
    const existed = (await this.get()) !== null;
    await this.ctx.storage.deleteAll();
    return existed;
  }
}

import { DurableObject } from "cloudflare:workers";
import type { EndpointRegistration } from "../src/contract/api.ts";

/**
 * One ref's entry of the endpoint directory (named by the ref): the URL, digest and processor token
 * `modalctl start` registered, and whether the endpoint sits behind Modal's proxy auth. The token
 * stays here: only the run's handshake carries it out. One object per ref, so no single object
 * sits on every run's path.
 */
export class EndpointDirectory extends DurableObject<Env> {
  #ensureTable(): void {
    // A registration from before processors had tokens (table `endpoint`) cannot admit a run: dropped.
    this.ctx.storage.sql.exec(
      `DROP TABLE IF EXISTS endpoint;
       CREATE TABLE IF NOT EXISTS registration (id INTEGER PRIMARY KEY CHECK (id = 1), url TEXT NOT NULL,
         image_digest TEXT NOT NULL, processor_token TEXT NOT NULL, proxy_auth INTEGER NOT NULL)`,
    );
  }

  #hasTable(): boolean {
    return (
      this.ctx.storage.sql
        .exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'registration'")
        .toArray().length > 0
    );
  }

  async put(registration: EndpointRegistration): Promise<void> {
    this.#ensureTable();
    this.ctx.storage.sql.exec(
      `INSERT INTO registration (id, url, image_digest, processor_token, proxy_auth) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET url = excluded.url, image_digest = excluded.image_digest,
         processor_token = excluded.processor_token, proxy_auth = excluded.proxy_auth`,
      registration.url,
      registration.image_digest,
      registration.processor_token,
      registration.proxy_auth ? 1 : 0,
    );
  }

  async get(): Promise<EndpointRegistration | null> {
    if (!this.#hasTable()) return null;
    const row = this.ctx.storage.sql
      .exec<{ url: string; image_digest: string; processor_token: string; proxy_auth: number }>(
        "SELECT url, image_digest, processor_token, proxy_auth FROM registration WHERE id = 1",
      )
      .toArray()[0];
    if (!row) return null;
    return {
      url: row.url,
      image_digest: row.image_digest,
      processor_token: row.processor_token,
      ...(row.proxy_auth ? { proxy_auth: true } : {}),
    };
  }

  /** True when there was a registration to remove; the object keeps no storage afterwards. */
  async remove(): Promise<boolean> {
    const existed = (await this.get()) !== null;
    await this.ctx.storage.deleteAll();
    return existed;
  }
}

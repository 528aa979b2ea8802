import { applyD1Migrations, type D1Migration } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Each workerd test file starts with the run index's schema in place, as `wrangler d1 migrations
// apply` leaves it (already applied migrations are skipped).
const migrations = (env as Env & { RUN_INDEX_MIGRATIONS: D1Migration[] }).RUN_INDEX_MIGRATIONS;
await applyD1Migrations(env.RUN_INDEX, migrations);

// `wrangler.toml`'s [build] command: the dashboard into dist/dashboard/ (scripts/lib/dashboard-build.ts).
import { buildDashboard } from "./lib/dashboard-build.ts";

const files = await buildDashboard();
process.stdout.write(`${JSON.stringify({ built: "dist/dashboard", files })}\n`);

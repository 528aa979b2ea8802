#!/usr/bin/env node
// Triggers a Theory run from CI: signs a run request with Standard Webhooks and posts it to
// POST /v1/hooks/ci. Prints the run resource (JSON) on stdout; exits non-zero on refusal.
//
//   THEORY_CONTROL_PLANE=https://theory.example.workers.dev \
//   THEORY_HOOK_SECRET=whsec_... \
//   THEORY_WEBHOOK_ID="$GITHUB_RUN_ID.$GITHUB_JOB" \
//   node trigger-run.mjs request.json          # or the request JSON on stdin
//
// The webhook id should stay the same when CI retries the same step: the control plane derives the
// run id from it, so a retry is answered with the run the first attempt started, never a second run.
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

const { THEORY_CONTROL_PLANE: base, THEORY_HOOK_SECRET: secret, THEORY_WEBHOOK_ID: id } = process.env;
if (!base || !secret || !id) {
  console.error("set THEORY_CONTROL_PLANE, THEORY_HOOK_SECRET and THEORY_WEBHOOK_ID");
  process.exit(2);
}
const body = readFileSync(process.argv[2] ?? 0, "utf8");
const now = new Date();
const response = await fetch(`${base.replace(/\/+$/, "")}/v1/hooks/ci`, {
  method: "POST",
  headers: {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(id, now, body),
  },
  body,
});
const text = await response.text();
process.stdout.write(`${text}\n`);
process.exit(response.status === 202 || response.status === 200 ? 0 : 1);

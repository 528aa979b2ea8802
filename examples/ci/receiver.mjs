#!/usr/bin/env node
// A receiver for Theory's run notifications: verifies the Standard Webhooks signature and prints
// each verified run resource as one JSON line on stdout. Answers 401 to anything that does not verify.
//
//   THEORY_WEBHOOK_SECRET=whsec_... PORT=8787 node receiver.mjs
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";

const secret = process.env.THEORY_WEBHOOK_SECRET;
if (!secret) {
  console.error("set THEORY_WEBHOOK_SECRET");
  process.exit(2);
}
const webhook = new Webhook(secret);
const server = createServer(async (req, res) => {
  let body = "";
  for await (const chunk of req) body += chunk;
  try {
    const run = webhook.verify(body, {
      "webhook-id": req.headers["webhook-id"] ?? "",
      "webhook-timestamp": req.headers["webhook-timestamp"] ?? "",
      "webhook-signature": req.headers["webhook-signature"] ?? "",
    });
    process.stdout.write(`${JSON.stringify({ webhook_id: req.headers["webhook-id"], run })}\n`);
    res.writeHead(204).end();
  } catch {
    res.writeHead(401).end();
  }
});
server.listen(Number(process.env.PORT ?? 8787), process.env.HOST ?? "127.0.0.1", () => {
  console.error(JSON.stringify({ event: "receiver.listen", port: server.address().port }));
});

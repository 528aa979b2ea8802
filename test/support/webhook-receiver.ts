import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface ReceivedDelivery {
  path: string;
  webhook_id: string;
  verified: boolean;
  body: unknown;
}

/**
 * A webhook receiver on loopback that verifies Standard Webhooks signatures with the library, and
 * answers by path: /ok 200; /flaky 500 twice per webhook-id, then 200; /never not at all.
 * GET /deliveries lists what arrived.
 */
export async function startWebhookReceiver(signingSecret: string) {
  const deliveries: ReceivedDelivery[] = [];
  const webhook = new Webhook(signingSecret);
  const server = createServer(async (req, res) => {
    if (req.method === "GET" && req.url === "/deliveries") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(deliveries));
      return;
    }
    let body = "";
    for await (const chunk of req) body += chunk;
    const headers = Object.fromEntries(
      ["webhook-id", "webhook-timestamp", "webhook-signature"].map((h) => [h, String(req.headers[h] ?? "")]),
    );
    let verified = true;
    try {
      webhook.verify(body, headers);
    } catch {
      verified = false;
    }
    const path = (req.url ?? "/").split("?")[0] as string;
    deliveries.push({ path, webhook_id: headers["webhook-id"] as string, verified, body: JSON.parse(body) });
    if (path === "/never") return; // hold the connection open, answer nothing
    const seen = deliveries.filter((d) => d.path === path && d.webhook_id === headers["webhook-id"]).length;
    res.writeHead(path === "/flaky" && seen <= 2 ? 500 : 200).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

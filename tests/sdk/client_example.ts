// What an app does with a client generated from sonic-server's OpenAPI document
// (openapi-typescript types + openapi-fetch): serve its inputs at URLs, check the face by
// URL (POST /api/faces), submit a job by URL with an Idempotency-Key and a webhook_url,
// wait for the signed webhook, verify it with node:crypto (Standard Webhooks), and check
// the job and its delivery log. Type-checked
// and then run against the real server by tests/sdk/run.sh.
//
//   node dist/client_example.js <server base URL> <whsec_ secret> <image file> <audio file>
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import createClient from "openapi-fetch";

import type { components, paths } from "./api.js";

type WebhookEvent = components["schemas"]["WebhookEvent"];
type FaceCheck = components["schemas"]["FaceCheck"];

// The Standard Webhooks check: HMAC-SHA256 of "id.timestamp.body" with the decoded secret.
export function verifyWebhook(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const id = headers["webhook-id"], timestamp = headers["webhook-timestamp"], signatures = headers["webhook-signature"];
  if (typeof id !== "string" || typeof timestamp !== "string" || typeof signatures !== "string") return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(" ").some((entry) => {
    const [version, value] = entry.split(",");
    const given = Buffer.from(value ?? "", "base64");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

async function main(): Promise<void> {
  const [baseUrl, secret, imagePath, audioPath] = process.argv.slice(2);
  if (!baseUrl || !secret || !imagePath || !audioPath) throw new Error("usage: client_example BASE SECRET IMAGE AUDIO");
  const files: Record<string, Buffer> = { "/portrait.png": readFileSync(imagePath), "/speech.wav": readFileSync(audioPath) };

  let unverified = 0;
  let onCompleted: (event: WebhookEvent) => void = () => {};
  const completed = new Promise<WebhookEvent>((resolve) => (onCompleted = resolve));
  const receiver = createServer((req, res) => {
    if (req.method === "GET") {
      const file = files[req.url ?? ""];
      res.writeHead(file ? 200 : 404, { "Content-Length": file ? file.length : 0 }).end(file);
      return;
    }
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      if (!verifyWebhook(secret, req.headers, body)) {
        unverified += 1;
        res.writeHead(401).end();
        return;
      }
      const event = JSON.parse(body) as WebhookEvent;
      res.writeHead(204).end();
      if (event.type === "job.completed") onCompleted(event);
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const here = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  const client = createClient<paths>({ baseUrl });
  // The face check first: is there a usable face, and which one speaks?
  const faces = await client.POST("/api/faces", { body: { image_url: `${here}/portrait.png` } });
  const check: FaceCheck | undefined = faces.data;
  if (!check || check.faces.length !== 1 || check.speaker !== 0 || !check.usable)
    throw new Error(`face check: ${JSON.stringify(faces.data ?? faces.error)}`);
  const square = check.faces[0]?.crops["1:1"];
  if (!square || square.output_width !== square.output_height) throw new Error(`1:1 crop: ${JSON.stringify(square)}`);

  const key = randomUUID();
  const request = {
    params: { header: { "Idempotency-Key": `"${key}"`, Prefer: "respond-async" } },
    body: {
      image_url: `${here}/portrait.png`,
      audio_url: `${here}/speech.wav`,
      config: { duration: 0.5, min_resolution: 256 },
      webhook_url: `${here}/hook`,
      webhook_events: ["started", "completed"] as ("started" | "progress" | "completed")[],
    },
  };
  const submitted = await client.POST("/api/sonic/generate", request);
  if (!submitted.data) throw new Error(`submit failed: ${JSON.stringify(submitted.error)}`);
  const jobId: string | undefined = submitted.data.job_id;
  if (!jobId) throw new Error("no job id");

  // A retry with the same key is the same job, and says so.
  const again = await client.POST("/api/sonic/generate", request);
  if (again.data?.job_id !== jobId || again.response.headers.get("Idempotent-Replayed") !== "true")
    throw new Error("the retried request was not replayed");

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no webhook within 120 s")), 120_000);
  });
  const event = await Promise.race([completed, timeout]).finally(() => clearTimeout(timer));
  if (event.data.job_id !== jobId || event.data.status !== "succeeded" || !event.data.video_url)
    throw new Error(`unexpected webhook: ${JSON.stringify(event)}`);

  const job = await client.GET("/api/jobs/{id}", { params: { path: { id: jobId } } });
  if (job.data?.status !== "succeeded") throw new Error(`job: ${JSON.stringify(job.data ?? job.error)}`);
  // The server marks a delivery delivered once it has read the receiver's answer, which can be
  // just after the receiver has the request in hand: read the log until it says so (10 s).
  let log = await client.GET("/api/jobs/{id}/webhooks", { params: { path: { id: jobId } } });
  let states: string[] = [];
  for (let tries = 0; ; tries++) {
    states = (log.data?.deliveries ?? []).map((d) => `${d.event}:${d.state}`);
    if (states.includes("job.completed:delivered") || tries >= 100) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
    log = await client.GET("/api/jobs/{id}/webhooks", { params: { path: { id: jobId } } });
  }
  if (!states.includes("job.completed:delivered")) throw new Error(`delivery log: ${JSON.stringify(log.data)}`);
  if (unverified !== 0) throw new Error(`${unverified} deliveries failed verification`);
  console.log(`job ${jobId} done: ${event.data.video_url}; deliveries ${states.join(", ")}`);
  receiver.closeAllConnections();
  receiver.close();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

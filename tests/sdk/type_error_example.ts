// Must NOT compile: proves the type check is real (run.sh expects tsc to fail here).
import createClient from "openapi-fetch";

import type { paths } from "./api.js";

const client = createClient<paths>({ baseUrl: "http://127.0.0.1:8080" });
// image_url is a string, and webhook_events takes only started/progress/completed.
await client.POST("/api/sonic/generate", { body: { image_url: 42, audio_url: "https://x/a.wav", webhook_events: ["finished"] } });
await client.GET("/api/jobs/{id}/webhooks", { params: { path: { job: "x" } } });

// The OpenAPI 3 document of the HTTP API. docs/openapi.json is the same text; the
// integration test openapi_test keeps the two, the routes and docs/api.md in step.
// (Generated from docs/openapi.json; embedding it this way needs no build-system step.)
#include "http/http_server.h"

namespace sonic::http {

const std::string& openapi_json() {
  static const std::string text = R"json({
  "openapi": "3.0.3",
  "info": {
    "title": "sonic-server",
    "version": "0.1.0",
    "description": "One portrait image + one voice recording -> a lip-synced talking-head MP4. Errors are JSON {success:false, error, code, field}. Every response carries X-Request-Id."
  },
  "paths": {
    "/api/sonic/generate": {
      "post": {
        "summary": "Generate a talking-head video (compatible with the original Flask endpoint)",
        "description": "Waits for the job up to the server's sync wait; with `Prefer: respond-async`, or when the wait runs out, answers 202 with the job's URLs. Identical requests are answered from the result cache (`cached: true`) or join the identical job in flight.",
        "parameters": [
          {"name": "Prefer", "in": "header", "required": false, "schema": {"type": "string", "example": "respond-async"}}
        ],
        "requestBody": {
          "required": true,
          "content": {
            "multipart/form-data": {
              "schema": {
                "type": "object",
                "required": ["image", "audio"],
                "properties": {
                  "image": {"type": "string", "format": "binary", "description": "PNG, JPEG or WebP (decided by content), <= 40 megapixels"},
                  "audio": {"type": "string", "format": "binary", "description": "WAV, MP3, FLAC, OGG/Opus, M4A/AAC (decided by content), <= 300 s"},
                  "config": {"type": "string", "description": "JSON object of generation parameters (DESIGN §4); unknown keys are refused"},
                  "preset": {"type": "string", "description": "name of a preset from GET /api/presets; config keys override it"}
                }
              }
            }
          }
        },
        "security": [{"bearerAuth": []}],
        "responses": {
          "200": {"description": "The video is ready", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/GenerateResult"}}}},
          "202": {"description": "Accepted; follow status_url or events_url", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "409": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "415": {"$ref": "#/components/responses/Error"},
          "422": {"$ref": "#/components/responses/Error"},
          "429": {"$ref": "#/components/responses/Error"},
          "500": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/jobs": {
      "get": {
        "summary": "The caller's jobs, newest first",
        "parameters": [
          {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
          {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}}
        ],
        "security": [{"bearerAuth": []}],
        "responses": {
          "200": {"description": "A page of jobs", "content": {"application/json": {"schema": {"type": "object", "properties": {"success": {"type": "boolean"}, "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}, "total": {"type": "integer"}, "offset": {"type": "integer"}, "limit": {"type": "integer"}}}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/jobs/{id}": {
      "parameters": [{"$ref": "#/components/parameters/JobId"}],
      "get": {
        "summary": "Status, progress (0-1), stage, resolved params, result or error, timings",
        "security": [{"bearerAuth": []}],
        "responses": {
          "200": {"description": "The job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      },
      "delete": {
        "summary": "Delete the job and its files (a running job is canceled first)",
        "security": [{"bearerAuth": []}],
        "responses": {
          "200": {"description": "Deleted", "content": {"application/json": {"schema": {"type": "object", "properties": {"success": {"type": "boolean"}, "job_id": {"type": "string"}, "deleted": {"type": "boolean"}}}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/jobs/{id}/cancel": {
      "parameters": [{"$ref": "#/components/parameters/JobId"}],
      "post": {
        "summary": "Cancel a queued or running job (a running one stops within one frame)",
        "security": [{"bearerAuth": []}],
        "responses": {
          "200": {"description": "The job after cancellation (a finished job is returned unchanged)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/jobs/{id}/events": {
      "parameters": [
        {"$ref": "#/components/parameters/JobId"},
        {"name": "Last-Event-ID", "in": "header", "required": false, "schema": {"type": "integer"}, "description": "resume after this event id"}
      ],
      "get": {
        "summary": "Server-Sent Events: status, progress (stage, fraction, eta_s), done, failed; numbered ids; keep-alive comments; closes after the final event",
        "security": [{"bearerAuth": []}],
        "responses": {
          "200": {"description": "An event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/output/{name}": {
      "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-f-]{36}\\.mp4$"}}],
      "get": {
        "summary": "The video (Range -> 206, ETag / If-None-Match -> 304; HEAD supported)",
        "parameters": [
          {"name": "Range", "in": "header", "required": false, "schema": {"type": "string", "example": "bytes=0-1023"}},
          {"name": "If-None-Match", "in": "header", "required": false, "schema": {"type": "string"}},
          {"name": "expires", "in": "query", "required": false, "schema": {"type": "integer"}, "description": "auth on: Unix time the signed link stops working (video_url carries it)"},
          {"name": "sig", "in": "query", "required": false, "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "description": "auth on: hex HMAC-SHA256 over '/output/<name>?expires=<expires>' (docs/auth.md)"}
        ],
        "responses": {
          "200": {"description": "The whole file", "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}},
          "206": {"description": "The requested range", "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}},
          "304": {"description": "Not modified"},
          "403": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"},
          "416": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/api/presets": {
      "get": {
        "summary": "The shipped parameter presets",
        "responses": {"200": {"description": "Presets", "content": {"application/json": {"schema": {"type": "object", "properties": {"success": {"type": "boolean"}, "presets": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "description": {"type": "string"}, "config": {"type": "object"}}}}}}}}}}
      }
    },
    "/api/engines": {
      "get": {
        "summary": "The installed engines and the default",
        "responses": {"200": {"description": "Engines", "content": {"application/json": {"schema": {"type": "object", "properties": {"success": {"type": "boolean"}, "default": {"type": "string"}, "engines": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "version": {"type": "string"}, "description": {"type": "string"}, "default": {"type": "boolean"}}}}}}}}}}
      }
    },
    "/healthz": {
      "get": {"summary": "Alive", "responses": {"200": {"description": "The process answers", "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"type": "string"}, "version": {"type": "string"}}}}}}}}
    },
    "/readyz": {
      "get": {"summary": "Engine loaded, storage writable, queue reachable", "responses": {"200": {"description": "Ready"}, "503": {"$ref": "#/components/responses/Error"}}}
    },
    "/metrics": {
      "get": {"summary": "Prometheus text: requests by route and status, latency histogram, jobs by state, job and stage durations, queue depth, running jobs, cache hits/misses, upload bytes (auth on: an admin token)", "security": [{"bearerAuth": []}], "responses": {"200": {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}}}
    },
    "/openapi.json": {
      "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3", "content": {"application/json": {"schema": {"type": "object"}}}}}}
    },
    "/": {
      "get": {"summary": "The web page", "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}}}
    }
  },
  "components": {
    "securitySchemes": {
      "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "Only with `serve --auth jwt` (docs/auth.md); with --auth none (loopback only) no route needs it"}
    },
    "parameters": {
      "JobId": {"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}
    },
    "responses": {
      "Error": {"description": "An error a person can act on", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    },
    "schemas": {
      "Error": {
        "type": "object",
        "required": ["success", "error", "code"],
        "properties": {
          "success": {"type": "boolean", "enum": [false]},
          "error": {"type": "string"},
          "code": {"type": "string", "enum": ["missing_file", "invalid_config", "invalid_param", "payload_too_large", "unsupported_media_type", "no_face", "audio_too_long", "unreadable_media", "queue_full", "rate_limited", "unauthorized", "forbidden", "not_found", "canceled", "shutting_down", "engine_failed", "internal", "interrupted"]},
          "field": {"type": "string"},
          "request_id": {"type": "string"},
          "job_id": {"type": "string"}
        }
      },
      "Accepted": {
        "type": "object",
        "properties": {
          "success": {"type": "boolean"}, "job_id": {"type": "string"}, "status": {"type": "string"},
          "status_url": {"type": "string"}, "events_url": {"type": "string"}, "joined": {"type": "boolean"}
        }
      },
      "GenerateResult": {
        "type": "object",
        "required": ["success", "video_url", "output_path", "job_id"],
        "properties": {
          "success": {"type": "boolean"}, "video_url": {"type": "string"}, "output_path": {"type": "string"},
          "job_id": {"type": "string"}, "status": {"type": "string"}, "cached": {"type": "boolean"},
          "duration": {"type": "number"}, "width": {"type": "integer"}, "height": {"type": "integer"},
          "fps": {"type": "integer"}, "frames": {"type": "integer"}, "params": {"type": "object"}, "result": {"type": "object"},
          "status_url": {"type": "string"}, "events_url": {"type": "string"}
        }
      },
      "Job": {
        "type": "object",
        "properties": {
          "success": {"type": "boolean"}, "job_id": {"type": "string"},
          "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "canceled"]},
          "stage": {"type": "string"}, "progress": {"type": "number"}, "engine": {"type": "string"},
          "params": {"type": "object"}, "cached": {"type": "boolean"}, "attempts": {"type": "integer"},
          "created_at_ms": {"type": "integer"}, "started_at_ms": {"type": "integer"}, "finished_at_ms": {"type": "integer"},
          "queue_seconds": {"type": "number"}, "run_seconds": {"type": "number"},
          "result": {"type": "object"}, "error": {"type": "object"},
          "video_url": {"type": "string"}, "output_path": {"type": "string"}, "output_expired": {"type": "boolean"},
          "status_url": {"type": "string"}, "events_url": {"type": "string"}
        }
      }
    }
  }
}
)json";
  return text;
}

}  // namespace sonic::http

//! The OpenAPI 3 description of the HTTP API.

use serde_json::{Value, json};

fn name_param() -> Value {
    json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string"},
           "description": "Registered goc name, e.g. staging_th_apa_goc_echoserver_master_518e0a570c"})
}

fn errors() -> Value {
    json!({
        "400": {"description": "Invalid name or parameter", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "404": {"description": "Unknown service or report not built yet", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    })
}

/// The document served at `/api/openapi.json`.
pub fn document() -> Value {
    let mut report_responses = errors();
    report_responses["200"] = json!({"description": "The report", "content": {
        "text/plain": {}, "text/html": {}, "application/json": {}, "text/markdown": {}}});
    json!({
        "openapi": "3.0.3",
        "info": {"title": "goc-adapter", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Coverage of Go services collected from goc agents"},
        "paths": {
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}},
            "/readyz": {"get": {"summary": "Readiness", "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "OpenMetrics text"}}}},
            "/api/v1/services": {"get": {"summary": "Every known service", "responses": {"200": {"description": "Summaries",
                "content": {"application/json": {"schema": {"type": "object", "properties": {"services": {"type": "array", "items": {"$ref": "#/components/schemas/Summary"}}}}}}}}}},
            "/api/v1/services/{name}": {"get": {"summary": "One service with history", "parameters": [name_param()],
                "responses": {"200": {"description": "Detail", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Summary"}}}}}}},
            "/api/v1/services/{name}/report": {"get": {"summary": "Latest full report", "parameters": [name_param(),
                {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["func", "html", "json"], "default": "html"}}],
                "responses": report_responses.clone()}},
            "/api/v1/services/{name}/diff": {"get": {"summary": "Latest incremental report", "parameters": [name_param(),
                {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["text", "json", "html", "markdown"], "default": "html"}}],
                "responses": report_responses}},
            "/api/v1/services/{name}/profile": {"get": {"summary": "Merged normalized profile", "parameters": [name_param(),
                {"name": "history", "in": "query", "schema": {"type": "integer", "minimum": 0}, "description": "0 = latest, N = Nth older"}],
                "responses": {"200": {"description": "Profile text", "content": {"text/plain": {}}}}}},
            "/api/v1/services/{name}/sync": {"post": {"summary": "Sync now", "parameters": [name_param()],
                "security": [{"bearer": []}],
                "responses": {"200": {"description": "New summary", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Summary"}}}},
                              "401": {"description": "Missing or wrong token"}}}}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
                "Summary": {"type": "object", "properties": {
                    "name": {"type": "string"}, "target": {"type": "string"}, "env": {"type": "string"},
                    "region": {"type": "string"}, "app": {"type": "string"}, "service": {"type": "string"},
                    "branch": {"type": "string"}, "commit": {"type": "string"}, "resolved_commit": {"type": "string", "nullable": true},
                    "addresses": {"type": "array", "items": {"type": "object", "properties": {
                        "address": {"type": "string"}, "state": {"type": "string", "enum": ["online", "offline", "unknown"]},
                        "failures": {"type": "integer"}, "note": {"type": "string", "nullable": true}}}},
                    "last_sync": {"type": "string", "format": "date-time", "nullable": true},
                    "last_change": {"type": "string", "format": "date-time", "nullable": true},
                    "next_sync": {"type": "string", "format": "date-time", "nullable": true},
                    "backoff_step": {"type": "integer"}, "md5": {"type": "string", "nullable": true},
                    "line_percent": {"type": "number", "nullable": true}, "diff_percent": {"type": "number", "nullable": true},
                    "last_error": {"type": "string", "nullable": true},
                    "reports": {"type": "object", "additionalProperties": {"type": "string"}},
                    "history": {"type": "array", "items": {"type": "object"}}
                }}
            }
        }
    })
}

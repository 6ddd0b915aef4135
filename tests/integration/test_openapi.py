"""The API described: GET /api/v1/openapi.json on the real binary, and the check
every integration test runs through service.py (each JSON answer validated
against the document for its path, method and status), shown able to fail."""

import copy
import json
import os
import sys
import tempfile
import unittest

import jsonschema

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import service  # noqa: E402
from service import Response, Service, ServiceTestCase, add_token, bearer  # noqa: E402


def create_fields(**overrides):
    fields = {"action": "create", "title": "Mail down", "systems": ["mail"], "engineer": "ana",
              "severity": "major", "started_at": "2026-03-01T10:00:00+01:00"}
    fields.update(overrides)
    return fields


def json_response(status, data, content_type="application/json"):
    return Response(status, {"Content-Type": content_type}, json.dumps(data).encode("utf-8"))


class OpenApiTest(ServiceTestCase):

    def test_the_document_describes_the_routes_with_roles_parameters_and_schemas(self):
        ledger = self.start_service()
        status, headers, document = ledger.get("/api/v1/openapi.json")
        self.assertEqual(status, 200, document)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(document["openapi"], "3.1.0")
        # What the helper checks against is what the service serves.
        self.assertEqual(ledger.openapi.document, document)
        paths = document["paths"]
        incident = paths["/api/v1/incidents/{ticket}"]
        self.assertEqual(incident["x-route-pattern"], "/api/v1/incidents/*")
        self.assertEqual(incident["get"]["x-required-role"], "viewer")
        self.assertEqual(incident["get"]["parameters"][0]["name"], "ticket")
        self.assertEqual(incident["get"]["parameters"][0]["in"], "path")
        self.assertEqual(incident["get"]["responses"]["200"]["content"]["application/json"]["schema"],
                         {"$ref": "#/components/schemas/Incident"})
        submissions = paths["/api/v1/submissions"]["post"]
        self.assertEqual(submissions["x-required-role"], "helpdesk")
        self.assertEqual(submissions["security"], [{"bearerToken": ["helpdesk"]}, {"sessionCookie": ["helpdesk"]}])
        self.assertEqual(set(submissions["requestBody"]["content"]),
                         {"application/json", "application/x-www-form-urlencoded"})
        self.assertEqual(paths["/healthz"]["get"]["security"], [])
        self.assertEqual(paths["/api/v1/maintenance"]["get"]["x-required-role"], "viewer")
        self.assertEqual(paths["/api/v1/maintenance"]["post"]["x-required-role"], "helpdesk")
        self.assertIn("text/html; charset=utf-8", paths["/"]["get"]["responses"]["200"]["content"])
        self.assertIn("text/event-stream; charset=utf-8",
                      paths["/api/v1/events/stream"]["get"]["responses"]["200"]["content"])
        self.assertEqual(paths["/static/{asset}"]["x-route-pattern"], "/static/**")
        # Every schema is a valid JSON Schema 2020-12 (OpenAPI 3.1's dialect).
        for name, schema in document["components"]["schemas"].items():
            with self.subTest(schema=name):
                jsonschema.Draft202012Validator.check_schema(schema)
        error = document["components"]["schemas"]["Error"]
        self.assertEqual(error["required"], ["error"])
        self.assertEqual(error["properties"]["error"]["required"], ["code", "message", "field"])
        # HEAD answers like GET; a query is refused.
        self.assertEqual(ledger.request("HEAD", "/api/v1/openapi.json").status, 200)
        self.assertError(ledger.get("/api/v1/openapi.json?x=1"), 400, "invalid_argument", "x")

    def test_a_wrong_answer_fails_the_check_naming_path_status_and_problem(self):
        ledger = self.start_service()
        created = ledger.submit(create_fields())
        self.assertStatus(created, 201)
        status, _, incident = ledger.get("/api/v1/incidents/INC-1")
        self.assertEqual(status, 200)
        check = ledger.openapi.check
        self.assertIsNone(check("GET", "/api/v1/incidents/INC-1", json_response(200, incident)))

        missing = dict(incident)
        del missing["status"]
        problem = check("GET", "/api/v1/incidents/INC-1", json_response(200, missing))
        self.assertIn("'status' is a required property", problem or "")
        retyped = dict(incident, version="3")
        problem = check("GET", "/api/v1/incidents/INC-1", json_response(200, retyped))
        self.assertIn("version", problem or "")
        wrong_enum = dict(incident, severity="catastrophic")
        self.assertIn("severity", check("GET", "/api/v1/incidents/INC-1", json_response(200, wrong_enum)) or "")
        # Inside an event: a hash that is not hex.
        answer = copy.deepcopy(created.data)
        answer["event"]["hash"] = "zz"
        self.assertIn("event/hash", check("POST", "/api/v1/submissions", json_response(201, answer)) or "")
        # An error answer must have the shared shape, on any path.
        self.assertIn("'field' is a required property",
                      check("GET", "/api/v1/incidents/INC-9",
                            json_response(404, {"error": {"code": "not_found", "message": "no"}})) or "")
        self.assertIn("required", check("GET", "/no/such/path", json_response(404, {"message": "no"})) or "")
        # A JSON answer where the document says the answer is HTML.
        self.assertIn("lists no application/json content", check("GET", "/", json_response(200, {})) or "")

        # And in the request helper itself: against a document whose health
        # answer needs a member the service does not send, every test's
        # request fails, naming what and why.
        wrong = copy.deepcopy(ledger.openapi.document)
        wrong["components"]["schemas"]["Health"]["required"].append("no_such_member")
        key = (ledger.host, ledger.port)
        service._documents[key] = service.OpenApi(wrong)
        try:
            with self.assertRaises(AssertionError) as raised:
                ledger.get("/healthz")
        finally:
            service._documents[key] = ledger.openapi
        message = str(raised.exception)
        self.assertIn("GET /healthz answered 200", message)
        self.assertIn("'no_such_member' is a required property", message)
        self.assertEqual(ledger.get("/healthz").status, 200)

    def test_paths_match_as_the_router_matches_them(self):
        ledger = self.start_service()
        openapi = ledger.openapi
        self.assertEqual(openapi.operation("GET", "/api/v1/events/stream")[0]["operationId"], "events_stream")
        self.assertEqual(openapi.operation("GET", "/api/v1/incidents/INC-3/events")[0]["operationId"],
                         "incident_events")
        self.assertEqual(openapi.operation("HEAD", "/static/vendor/x.css")[0]["operationId"], "static")
        self.assertEqual(openapi.operation("POST", "/api/v1/maintenance")[0]["operationId"], "maintenance_submit")
        self.assertEqual(openapi.operation("PUT", "/api/v1/maintenance"), (None, True))
        self.assertEqual(openapi.operation("GET", "/static"), (None, False))

    def test_with_an_auth_file_the_document_is_for_viewers(self):
        with tempfile.TemporaryDirectory() as folder:
            auth_file = os.path.join(folder, "auth.txt")
            viewer = add_token(auth_file, "wall", "viewer")
            with Service(extra_args=["--auth-file", auth_file]) as ledger:
                self.assertError(ledger.get("/api/v1/openapi.json"), 401, "unauthenticated", ("", "authorization"))
                status, _, document = ledger.get("/api/v1/openapi.json", headers=bearer(viewer))
                self.assertEqual(status, 200)
                # The helper had the same document without the token.
                self.assertEqual(ledger.openapi.document, document)


if __name__ == "__main__":
    service.require_binary_or_exit()
    unittest.main()

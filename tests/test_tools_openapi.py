"""OpenAPI descriptions read into tools: 3.0, 3.1 and Swagger 2.0, `$ref`s (circular ones
too), problems reported per operation, arguments checked with JSON Schema, and relevance
ranking for large specs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema.validators import Draft202012Validator

from homeport.domain.chat import ChatMessage, ChatRequest, ChatResult, CompletionRequest, Usage
from homeport.domain.tools import ApiDescription, Operation
from homeport.errors import ValidationFailed
from homeport.outbound import OutboundClient
from homeport.tools.executor import ApiBinding, ApiExecutor
from homeport.tools.openapi import SpecUnusable, parse_text, read_api
from homeport.tools.prompts import Prompts
from homeport.tools.select import OperationIndex, rank, words
from homeport.tools.strategies import Model, PipelineOptions, classify
from homeport.tools.toolbox import Credential, Toolbox

DATA = Path(__file__).parent / "data" / "openapi"
HR_SPEC = Path(__file__).parents[1] / "examples" / "apps" / "hr-openapi.json"
RECURSIVE = "(recursive; nested value as the API returns it)"


def read(name: str) -> ApiDescription:
    return read_api(parse_text((DATA / name).read_text()))


def operation(api: ApiDescription, name: str) -> Operation:
    found = api.operation(name)
    assert found is not None, f"no operation {name} in {[o.name for o in api.operations]}"
    return found


def problems(document: Any) -> list[str]:
    with pytest.raises(SpecUnusable) as caught:
        read_api(document)
    return caught.value.problems


def spec(paths: Any, **more: Any) -> dict[str, Any]:
    return {"openapi": "3.0.3", "info": {"title": "T", "version": "1"}, "paths": paths, **more}


def valid(schema: dict[str, Any], value: Any) -> bool:
    return Draft202012Validator(schema).is_valid(value)


# -- OpenAPI 3.0 ----------------------------------------------------------------------------


def test_petstore_3_0_reads_into_its_operations() -> None:
    api = read("petstore-3.0.yaml")

    assert (api.title, api.version) == ("Swagger Petstore", "3.0.3")
    assert api.servers == ("https://api.petstore.example/v1",)
    assert [(o.name, o.method, o.path) for o in api.operations] == [
        ("listPets", "GET", "/pets"),
        ("createPets", "POST", "/pets"),
        ("showPetById", "GET", "/pets/{petId}"),
        ("deletePet", "DELETE", "/pets/{petId}"),
    ]
    list_pets = operation(api, "listPets")
    assert (list_pets.summary, list_pets.tags, list_pets.safe) == ("List all pets", ("pets",), True)
    (limit,) = list_pets.parameters
    assert (limit.name, limit.location, limit.required) == ("limit", "query", False)
    assert limit.description == "How many items to return at one time (max 100)"
    # 3.0's boolean exclusiveMinimum becomes JSON Schema's numeric one
    assert limit.schema == {
        "type": "integer",
        "format": "int32",
        "maximum": 100,
        "exclusiveMinimum": 0,
    }


def test_petstore_3_0_path_parameters_are_merged_and_overridden() -> None:
    api = read("petstore-3.0.yaml")

    (pet_id,) = operation(api, "showPetById").parameters
    assert (pet_id.location, pet_id.required) == ("path", True)
    assert pet_id.description == "The id of the pet to retrieve"
    delete = operation(api, "deletePet")
    assert [(p.name, p.location, p.description) for p in delete.parameters] == [
        ("petId", "path", "The id of the pet to delete"),
        ("X-Request-Id", "header", "Echoed back, for tracing"),
    ]
    assert delete.parameters[1].schema == {"type": "string", "format": "uuid"}


def test_petstore_3_0_request_body_prefers_json_and_leaves_out_read_only_fields() -> None:
    create = operation(read("petstore-3.0.yaml"), "createPets")

    assert (create.body_content_type, create.body_required, create.safe) == (
        "application/json",
        True,
        False,
    )
    assert create.body == {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "examples": ["Rex"]},
            "tag": {"type": ["string", "null"]},
            "status": {"type": ["string", "null"], "enum": ["available", "sold", None]},
        },
        "description": "The pet to add",
    }


def test_petstore_3_0_response_is_the_successful_json_one_with_refs_inlined() -> None:
    api = read("petstore-3.0.yaml")

    pet = operation(api, "showPetById").response  # its status code is an unquoted YAML 200
    assert pet is not None
    assert pet["required"] == ["id", "name"]
    assert pet["properties"]["id"] == {"type": "integer", "format": "int64", "readOnly": True}
    assert "xml" not in pet and "x-go-type" not in pet
    assert operation(api, "listPets").response == {"type": "array", "maxItems": 100, "items": pet}
    assert operation(api, "deletePet").response is None  # 204; `default` is the error


def test_arguments_are_checked_against_the_operation_schema() -> None:
    api = read("petstore-3.0.yaml")
    list_pets = operation(api, "listPets").arguments_schema()
    create = operation(api, "createPets").arguments_schema()

    assert valid(list_pets, {}) and valid(list_pets, {"limit": 20})
    assert not valid(list_pets, {"limit": 500})
    assert not valid(list_pets, {"limit": 0})
    assert not valid(list_pets, {"limit": "ten"})
    assert not valid(list_pets, {"offset": 10})
    assert valid(create, {"body": {"name": "Rex", "tag": None}})
    assert not valid(create, {"body": {"tag": "dog"}})
    assert not valid(create, {"body": {"name": "Rex", "status": "lost"}})
    assert not valid(create, {})


def test_responses_validate_what_the_api_returns() -> None:
    response = operation(read("petstore-3.0.yaml"), "listPets").response
    assert response is not None

    assert valid(response, [{"id": 1, "name": "Rex", "tag": None, "status": "sold"}])
    assert not valid(response, [{"id": 1}])


def test_an_xml_only_body_still_reads() -> None:
    xml = {"content": {"application/xml": {"schema": {"type": "object"}}}}
    document = spec({"/notes": {"post": {"operationId": "addNote", "requestBody": xml}}})

    note = operation(read_api(document), "addNote")

    assert (note.body_content_type, note.body) == ("application/xml", {"type": "object"})


def test_headers_the_client_sets_are_not_arguments() -> None:
    headers = [
        {"name": name, "in": "header", "schema": {"type": "string"}}
        for name in ("Accept", "content-type", "Authorization", "X-Tenant")
    ]
    document = spec({"/notes": {"get": {"operationId": "notes", "parameters": headers}}})

    assert [p.name for p in operation(read_api(document), "notes").parameters] == ["X-Tenant"]


# -- Swagger 2.0 ----------------------------------------------------------------------------


def test_swagger_2_petstore_reads_into_its_operations() -> None:
    api = read("petstore-swagger-2.0.json")

    assert api.version == "2.0"
    assert api.servers == ("https://petstore.swagger.io/v2", "http://petstore.swagger.io/v2")
    assert [(o.name, o.method, o.path) for o in api.operations] == [
        ("addPet", "POST", "/pet"),
        ("findPetsByStatus", "GET", "/pet/findByStatus"),
        ("getPetById", "GET", "/pet/{petId}"),
        ("updatePetWithForm", "POST", "/pet/{petId}"),
        ("deletePet", "DELETE", "/pet/{petId}"),
        ("uploadFile", "POST", "/pet/{petId}/uploadImage"),
    ]
    (pet_id,) = operation(api, "getPetById").parameters
    assert pet_id.schema == {"type": "integer", "format": "int64", "exclusiveMinimum": 0}
    (status,) = operation(api, "findPetsByStatus").parameters
    assert status.required
    assert status.schema == {
        "type": "array",
        "items": {
            "type": "string",
            "enum": ["available", "pending", "sold"],
            "default": "available",
        },
    }


def test_swagger_2_body_parameter_is_the_request_body() -> None:
    api = read("petstore-swagger-2.0.json")
    add = operation(api, "addPet")

    assert add.parameters == ()
    assert (add.body_content_type, add.body_required) == ("application/json", True)
    assert add.body is not None
    assert add.body["required"] == ["name", "photoUrls"]
    assert add.body["description"] == "Pet object that needs to be added to the store"
    assert add.body["properties"]["category"]["properties"]["name"] == {"type": "string"}
    assert "xml" not in json.dumps(add.body)
    pet = operation(api, "getPetById").response
    assert pet is not None and pet["properties"]["name"] == {
        "type": "string",
        "examples": ["doggie"],
    }
    arguments = add.arguments_schema()
    assert valid(arguments, {"body": {"name": "Rex", "photoUrls": ["https://x/rex.jpg"]}})
    assert not valid(arguments, {"body": {"name": "Rex"}})


def test_swagger_2_form_data_parameters_are_one_form_body() -> None:
    api = read("petstore-swagger-2.0.json")

    update = operation(api, "updatePetWithForm")
    assert [p.name for p in update.parameters] == ["petId"]
    assert update.body_content_type == "application/x-www-form-urlencoded"
    assert update.body == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Updated name of the pet"},
            "status": {"type": "string", "description": "Updated status of the pet"},
        },
    }
    upload = operation(api, "uploadFile")
    assert (upload.body_content_type, upload.body_required) == ("multipart/form-data", True)
    assert upload.body is not None
    assert upload.body["required"] == ["file"]
    assert upload.body["properties"]["file"]["format"] == "binary"
    assert upload.response == {
        "type": "object",
        "properties": {
            "code": {"type": "integer", "format": "int32"},
            "type": {"type": "string"},
            "message": {"type": "string"},
        },
    }


def test_swagger_2_parameter_without_a_type_is_a_problem() -> None:
    document = {
        "swagger": "2.0",
        "info": {"title": "T", "version": "1"},
        "paths": {
            "/pets": {
                "get": {"operationId": "listPets", "parameters": [{"name": "q", "in": "query"}]}
            }
        },
    }

    assert problems(document) == ["GET /pets (listPets): parameter 'q' has no type"]


# -- OpenAPI 3.1 ----------------------------------------------------------------------------


def test_openapi_3_1_schemas_are_json_schema_already() -> None:
    api = read("orders-3.1.yaml")

    assert (api.title, api.version, api.servers) == ("Orders", "3.1.0", ("/api",))
    status, order_filter = operation(api, "orders_list").parameters  # Authorization is left out
    assert status.schema == {"type": ["string", "null"], "enum": ["open", "shipped", None]}
    assert order_filter.schema["properties"] == {"customer": {"type": "string"}}
    line = operation(api, "get_order_line__v2_")
    assert line.parameters[1].schema == {"type": "integer", "exclusiveMinimum": 0}
    assert line.response == {  # `application/vnd.orders+json` is JSON; `$defs` via a pointer
        "type": "object",
        "required": ["sku", "quantity"],
        "properties": {
            "sku": {"type": "string"},
            "quantity": {"type": "integer", "exclusiveMinimum": 0},
        },
    }
    assert (
        operation(api, "orders_list").arguments_schema()["properties"]["status"]["enum"][-1] is None
    )


def test_read_only_and_write_only_properties_follow_the_direction() -> None:
    place = operation(read("orders-3.1.yaml"), "post_orders")

    assert place.body is not None and place.response is not None
    assert set(place.body["properties"]) == {"note", "lines", "secret"}
    assert place.body["required"] == ["lines"]
    assert set(place.response["properties"]) == {"id", "note", "lines"}
    assert "$defs" not in json.dumps(place.response)


def test_tool_names_are_safe_unique_and_derived_when_missing() -> None:
    api = read("orders-3.1.yaml")

    assert [o.name for o in api.operations] == [
        "orders_list",  # orders.list
        "post_orders",  # no operationId
        "get_order_line__v2_",  # "get order line (v2)"
        "orders_list_2",  # "orders list", also orders_list once made safe
        "generateTheYearlyReportOfAllOrdersShippedToCustomersInEveryRegio",  # cut at 64
    ]
    assert operation(api, "orders_list_2").response is None  # no content
    assert (
        operation(api, "generateTheYearlyReportOfAllOrdersShippedToCustomersInEveryRegio").response
        is None
    )


def test_derived_names_come_from_method_and_path() -> None:
    ok = {"responses": {"200": {"description": "ok"}}}
    job_id = [{"name": "jobId", "in": "path", "required": True, "schema": {"type": "string"}}]
    document = spec(
        {
            "/jobs/{jobId}": {"get": {**ok, "parameters": job_id}},
            "/": {"get": ok},
            "/jobs/{jobId}/": {"get": {**ok, "parameters": job_id}},
            "/" + "a" * 80: {"delete": ok},
        }
    )

    assert [o.name for o in read_api(document).operations] == [
        "get_jobs_jobId",
        "get",
        "get_jobs_jobId_2",
        "delete_" + "a" * 57,
    ]


# -- circular and deep refs -----------------------------------------------------------------


def test_circular_refs_end_in_a_described_stub() -> None:
    api = read("circular-3.0.yaml")

    employee = operation(api, "getEmployee").response
    stub = {"type": "object", "description": f"Employee {RECURSIVE}"}
    assert employee == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "manager": stub,
            "reports": {"type": "array", "items": stub},
        },
    }
    tree = operation(api, "getTree").response
    assert tree is not None
    assert tree["properties"]["children"]["items"]["description"] == f"Node {RECURSIVE}"
    a = operation(api, "getA").response
    assert a is not None
    assert a["properties"]["b"]["properties"]["a"]["description"] == f"A {RECURSIVE}"
    b = operation(api, "getB").response  # B reached first, not the B inside A above
    assert b is not None and b["type"] == ["object", "null"]
    assert b["properties"]["a"]["properties"]["b"]["description"] == f"B {RECURSIVE}"


def test_circular_request_bodies_are_finite_and_validate() -> None:
    update = operation(read("circular-3.0.yaml"), "updateEmployee").arguments_schema()

    boss = {"name": "Ada", "manager": {"name": "Grace", "manager": {"name": "Joan"}}}
    assert valid(update, {"id": 7, "body": {**boss, "reports": [{"name": "Alan"}]}})
    assert not valid(update, {"id": 7, "body": {"name": 3}})


def test_ref_nesting_stops_at_a_fixed_depth() -> None:
    chain = {
        f"S{n}": {
            "type": "object",
            "properties": {"next": {"$ref": f"#/components/schemas/S{n + 1}"}},
        }
        for n in range(30)
    }
    chain["S30"] = {"type": "string"}
    response = {
        "200": {
            "description": "ok",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/S0"}}},
        }
    }
    document = spec({"/chain": {"get": {"operationId": "chain", "responses": response}}})
    document["components"] = {"schemas": chain}

    schema = operation(read_api(document), "chain").response
    depth = 0
    while schema is not None and "properties" in schema:
        schema, depth = schema["properties"]["next"], depth + 1
    assert depth == 12
    assert schema == {
        "type": "object",
        "description": "S12 (nested too deep to describe; as the API returns it)",
    }


def test_a_web_of_schemas_that_all_refer_to_one_another_stays_bounded() -> None:
    # every schema refers to six others: unrolled, each response would be astronomically large
    count = 40
    web = {
        f"S{n}": {
            "type": "object",
            "properties": {
                f"to{m}": {"$ref": f"#/components/schemas/S{(n * 7 + m * 3 + 1) % count}"}
                for m in range(6)
            },
        }
        for n in range(count)
    }
    paths = {
        f"/s{n}": {
            "get": {
                "operationId": f"getS{n}",
                "responses": {"200": {"$ref": f"#/components/responses/S{n}"}},
            }
        }
        for n in range(count)
    }
    responses = {
        f"S{n}": {
            "description": "ok",
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/S{n}"}}},
        }
        for n in range(count)
    }
    document = spec(paths, components={"schemas": web, "responses": responses})

    api = read_api(document)

    for found in api.operations:
        text = json.dumps(found.response)
        assert len(text) < 2_000_000
        assert "(recursive; nested value as the API returns it)" in text


JSON_POINTER_SPEC = spec(
    {
        "/a/{b}": {
            "get": {
                "parameters": [{"$ref": "#/components/parameters/b~1c~0d"}],
                "requestBody": {"$ref": "#/components/requestBodies/Note"},
                "responses": {"200": {"$ref": "#/components/responses/Note"}},
            }
        },
        "/copy/{b}": {"$ref": "#/paths/~1a~1%7Bb%7D"},
    },
    components={
        "parameters": {
            "b/c~d": {"name": "b", "in": "path", "required": True, "schema": {"type": "string"}}
        },
        "requestBodies": {
            "Note": {"content": {"application/json": {"schema": {"type": "string"}}}}
        },
        "responses": {
            "Note": {
                "description": "ok",
                "content": {"application/json; charset=utf-8": {"schema": {"type": "integer"}}},
            }
        },
    },
)


def test_refs_to_parameters_bodies_responses_and_path_items_resolve() -> None:
    api = read_api(JSON_POINTER_SPEC)

    for found in api.operations:
        assert [p.name for p in found.parameters] == ["b"]
        assert (found.body, found.response) == ({"type": "string"}, {"type": "integer"})
    assert [(o.name, o.path) for o in api.operations] == [
        ("get_a_b", "/a/{b}"),
        ("get_copy_b", "/copy/{b}"),
    ]


@pytest.mark.parametrize(
    "name",
    ["petstore-3.0.yaml", "petstore-swagger-2.0.json", "orders-3.1.yaml", "circular-3.0.yaml"],
)
def test_every_tool_schema_is_json_and_valid_json_schema(name: str) -> None:
    for found in read(name).operations:
        for schema in (found.arguments_schema(), found.response or {}):
            assert json.loads(json.dumps(schema)) == schema
            Draft202012Validator.check_schema(schema)


def test_the_hr_example_spec_reads() -> None:
    api = read_api(json.loads(HR_SPEC.read_text()))

    assert (api.title, api.servers) == ("Brekka HR API", ("http://127.0.0.1:8081",))
    assert [(o.name, o.method, o.path) for o in api.operations][:2] == [
        ("listJobs", "GET", "/jobs"),
        ("getJob", "GET", "/jobs/{jobId}"),
    ]
    get_job = operation(api, "getJob")
    assert [(p.name, p.location, p.required) for p in get_job.parameters] == [
        ("jobId", "path", True)
    ]
    assert get_job.response is not None
    assert {"id", "title", "department", "location"} <= set(get_job.response["required"])
    jobs = operation(api, "listJobs").response
    assert jobs == {"type": "array", "items": get_job.response}
    assert valid(operation(api, "listJobs").arguments_schema(), {"department": "harbour"})


# -- problems -------------------------------------------------------------------------------


def test_a_broken_spec_lists_every_problem_with_its_operation() -> None:
    with pytest.raises(SpecUnusable) as caught:
        read("broken-3.0.yaml")

    undeclared = "is not declared (no parameter with in: path)"
    assert caught.value.problems == [
        f"GET /jobs/{{jobId}} (getJob): path parameter 'jobId' {undeclared}",
        "GET /jobs/{jobId}/notes (listNotes): path parameter 'jobId' must be required: true",
        "GET /jobs/{jobId}/notes (listNotes): "
        "parameter 'page' has an unknown location (in: 'querystring')",
        "GET /jobs/{jobId}/notes (listNotes): parameter 'q' has no schema (or content)",
        "GET /jobs (listJobs): $ref '#/components/schemas/Missing' does not resolve",
        "POST /jobs (createJob): "
        "$ref 'common.yaml#/components/schemas/Job' points outside the document (not supported)",
        "GET /vacancies (listJobs): operationId 'listJobs' is also used by GET /jobs (listJobs)",
        "GET /vacancies (listJobs): parameter 'id' is in: path, but the path has no {id}",
        f"DELETE /things/{{thingId}}: path parameter 'thingId' {undeclared}",
        "/old-jobs: $ref '#/paths/~1nowhere' does not resolve",
    ]
    error = caught.value
    assert isinstance(error, ValidationFailed)
    assert (error.code, error.param) == ("api_spec_invalid", "schema")
    assert str(error) == "\n".join(error.problems)


def test_a_broken_ref_is_reported_for_each_operation_that_uses_it() -> None:
    body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Gone"}}}}
    document = spec(
        {
            "/a": {"post": {"operationId": "a", "requestBody": body}},
            "/b": {"put": {"requestBody": body}},
        }
    )

    assert problems(document) == [
        "POST /a (a): $ref '#/components/schemas/Gone' does not resolve",
        "PUT /b: $ref '#/components/schemas/Gone' does not resolve",
    ]


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([], "not an OpenAPI 3.x or Swagger 2.0 document: a list"),
        (spec({}), "the spec has no operations"),
        ({"openapi": "3.1.0", "info": {}, "webhooks": {}}, "the spec has no operations"),
        (spec([]), "`paths` is not a mapping"),
        (
            {"swagger": "1.2", "paths": {}},
            "not an OpenAPI 3.x or Swagger 2.0 document: swagger: '1.2'",
        ),
        (
            {"openapi": "4.0", "paths": {}},
            "not an OpenAPI 3.x or Swagger 2.0 document: openapi: '4.0'",
        ),
        (
            {"info": {"title": "T"}},
            "not an OpenAPI 3.x or Swagger 2.0 document: it has no `openapi` or `swagger` version",
        ),
        (
            spec({"/a": {"get": {}}}, servers=[{"url": "https://{region}.example.com"}]),
            "server https://{region}.example.com: variable {region} has no default",
        ),
        (spec({"/a": {"get": "list things"}}), "GET /a: the operation is not a mapping"),
    ],
)
def test_unusable_specs_say_why(document: Any, problem: str) -> None:
    assert problems(document) == [problem]


# -- parse_text ------------------------------------------------------------------------------


def test_parse_text_reads_json_and_yaml() -> None:
    assert parse_text('{"openapi": "3.0.3"}') == {"openapi": "3.0.3"}
    yaml_text = "openapi: 3.0.3\ninfo:\n  version: 2024-01-31\n"
    assert parse_text(yaml_text) == {"openapi": "3.0.3", "info": {"version": "2024-01-31"}}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- a\n- b\n", "not an OpenAPI document: the text holds a list"),
        ("just words", "not an OpenAPI document: the text holds a string"),
        ("", "not an OpenAPI document: the text holds nothing"),
        ('{"openapi": ', "not valid JSON: Expecting value: line 1 column 13 (char 12)"),
        ("openapi: [3.0\n", "not valid JSON or YAML: "),
    ],
)
def test_parse_text_refuses_what_is_not_a_spec(text: str, problem: str) -> None:
    with pytest.raises(SpecUnusable) as caught:
        parse_text(text)
    assert str(caught.value).startswith(problem)


def test_parse_text_refuses_a_yaml_alias_bomb() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 9)]

    with pytest.raises(SpecUnusable, match="values once aliases are expanded"):
        parse_text("\n".join(lines))


# -- ranking --------------------------------------------------------------------------------

RESOURCES = [
    "invoice", "customer", "shipment", "warehouse", "supplier", "product", "order", "payment",
    "refund", "coupon", "employee", "department", "project", "task", "ticket", "comment",
    "attachment", "report", "dashboard", "alert", "webhook", "token", "session", "device",
    "printer", "camera", "sensor", "meter", "vehicle", "driver", "route", "parcel", "locker",
    "tenant", "contract", "license", "subscription", "plan", "quota", "bucket", "volume",
    "snapshot", "backup", "cluster", "node", "pipeline", "build", "artifact", "release",
    "deployment",
]  # fmt: skip
ACTIONS = {
    "list": "List all {}s, newest first",
    "get": "Get one {} by its id",
    "create": "Create a new {}",
    "update": "Update the fields of a {}",
    "delete": "Delete a {} for good",
    "archive": "Archive a {} so it no longer shows",
}


def synthetic_api() -> ApiDescription:
    ok = {"responses": {"200": {"description": "ok"}}}
    paths: dict[str, Any] = {}
    for resource in RESOURCES:
        for action, summary in ACTIONS.items():
            operation_id = action + resource.title()
            paths[f"/{resource}s/{action}"] = {
                "post": {"operationId": operation_id, "summary": summary.format(resource), **ok}
            }
    return read_api(spec(paths))


@pytest.mark.parametrize(
    ("query", "best"),
    [
        ("Please delete invoice 42", "deleteInvoice"),
        ("archive the old shipments", "archiveShipment"),
        ("create a new customer called ACME", "createCustomer"),
        ("show me all subscriptions", "listSubscription"),
        ("update warehouse 3 with its new address", "updateWarehouse"),
        ("getPipeline", "getPipeline"),
    ],
)
def test_ranking_puts_the_wanted_operation_first(query: str, best: str) -> None:
    api = synthetic_api()
    assert len(api.operations) == 300

    ranked = OperationIndex(api.operations).rank(query, limit=10)

    assert ranked[0].name == best
    assert len(ranked) == 10


def test_ranking_over_the_petstores() -> None:
    pets = read("petstore-3.0.yaml").operations
    swagger = read("petstore-swagger-2.0.json").operations

    assert rank(pets, "delete my pet", limit=1)[0].name == "deletePet"
    assert rank(pets, "list all the pets", limit=1)[0].name == "listPets"
    assert rank(swagger, "upload an image of my dog", limit=2)[0].name == "uploadFile"
    assert rank(swagger, "pets that are sold, by status", limit=2)[0].name == "findPetsByStatus"


def test_a_small_api_is_offered_whole_in_spec_order() -> None:
    pets = read("petstore-3.0.yaml").operations

    ranked = rank(pets, "delete my pet", limit=4)

    assert ranked == list(pets)
    assert all(a is b for a, b in zip(ranked, pets, strict=True))


def test_a_question_that_matches_nothing_gets_the_first_operations() -> None:
    api = synthetic_api()

    ranked = OperationIndex(api.operations).rank("zzz qqq", limit=3)

    assert [o.name for o in ranked] == ["listInvoice", "getInvoice", "createInvoice"]


def test_words_split_names_paths_and_plurals() -> None:
    assert words("getJobById /jobs/{jobId} list_open_vacancies X-Request-ID") == [
        "get", "job", "id", "job", "job", "id", "list", "open", "vacancy", "x", "request", "id",
    ]  # fmt: skip
    assert words("What is the status of the branches?") == ["status", "branch"]


# -- a base model's classifier: a clear leader needs no model ------------------------------------


class Classifier:
    """A base model that answers the classifier with `choice`, counting how often asked."""

    def __init__(self, choice: str) -> None:
        self.choice = choice
        self.asked = 0

    async def complete(self, request: CompletionRequest) -> ChatResult:
        self.asked += 1
        return ChatResult(json.dumps({"tool": self.choice}), "stop", Usage())

    async def chat(self, request: ChatRequest) -> ChatResult:
        raise AssertionError("a base model is given completions")


async def classify_hr(question: str, model_choice: str) -> tuple[str | None, int]:
    api = read_api(json.loads(HR_SPEC.read_text()))
    binding = ApiBinding("hr", "HR", "http://hr.example", api.operations)

    async def no_credential(_: ApiBinding) -> Credential:
        return {}

    toolbox = Toolbox.of([(binding, Prompts())], ApiExecutor(OutboundClient()), no_credential)
    fake = Classifier(model_choice)
    model = Model("base", True, fake.chat, fake.complete)
    request = ChatRequest("base", [ChatMessage("user", question)])
    tool = await classify(request, toolbox, model, PipelineOptions())
    return (tool.name if tool else None), fake.asked


@pytest.mark.anyio
async def test_a_base_model_is_asked_only_when_the_words_leave_the_choice_open() -> None:
    scores = OperationIndex(read_api(json.loads(HR_SPEC.read_text())).operations).scored(
        "Which candidates applied?", limit=2
    )
    assert scores[0][0].name == "listCandidates" and scores[0][1] >= 1.5 * scores[1][1]

    clear = await classify_hr("Which candidates applied?", model_choice="whoAmI")
    open_choice = await classify_hr("Tell me about job eng-4", model_choice="getJob")

    assert clear == ("listCandidates", 0)  # the model would have said whoAmI
    assert open_choice == ("getJob", 1)

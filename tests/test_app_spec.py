"""App files: Helix's aispec YAML loads unchanged; every problem is reported at once, placed."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from homeport.apps.forms import app_json_schema, dump_app
from homeport.apps.loading import (
    LoadedApp,
    SpecInvalid,
    SpecProblem,
    load_documents,
    load_mapping,
    resolve_files,
)
from homeport.apps.spec import (
    AppSpec,
    file_references,
    schema_kind,
    secret_references,
)
from homeport.errors import ValidationFailed

# -- Helix's own examples, verbatim ------------------------------------------------------------

# helixml/helix: examples/marvin_paranoid_bot.yaml (flat form, a display name as the name)
HELIX_MARVIN = """\
name: Marvin the Paranoid Android
description: Down-trodden perspective from a robot with a brain the size of a planet
avatar: |
  https://upload.wikimedia.org/wikipedia/commons/thumb/0/05/Robot_icon.svg/1024px-Robot_icon.svg.png
image: https://www.fxguide.com/wp-content/uploads/2010/10/hitch/planetf.jpg
assistants:
- name: Marvin
  model: llama3.1:8b-instruct-q8_0
  system_prompt: |
    You are Marvin the Paranoid Android. You are depressed. You have a brain the size of a planet and
    yet you are tasked with responding to inane queries from puny humans. Answer succinctly.
"""  # noqa: E501

# helixml/helix: examples/basic_test.yaml (tests; the legacy `type: text`)
HELIX_COMEDIAN = """\
name: Comedian
description: LLMs should be funny. This app demonstrates how to add tests to a App to verify functionality. In this case, we are testing that the LLM will tell a joke on command.
avatar: https://m.media-amazon.com/images/M/MV5BOWUxNzE1NGUtMWJlMC00ZjE4LTkwNjgtZmYwNTcyNDY0NWVmXkEyXkFqcGc@._V1_.jpg
image: https://thumbs.dreamstime.com/b/dark-empty-stage-spot-lights-comedy-standup-cabaret-night-club-d-render-151013423.jpg
assistants:
  - model: llama3.1:8b-instruct-q8_0
    type: text
    system_prompt: |
      You are a comedian. You must tell a full joke, with setup and punchline, on every interaction,
      following a theme provided by the user.

      Examples:
      User: "Chickens"
      Assistant: "Why did the chicken cross the road? She was egg-xited to get to the other side."

      User: "Food"
      Assistant: "What did one plate say to the other plate? Dinner is on me!"

      User:
    tests:
      - name: english
        steps:
          - prompt: People
            expected_output: Written in English
      - name: funny
        steps:
          - prompt: Seaside
            expected_output: A joke, with a setup and punchline. It doesn't have to be hilarious.
"""  # noqa: E501

# helixml/helix: examples/api_tools.yaml (an API whose schema is a file next to the app file)
HELIX_API_TOOLS = """\
name: api-tools
description: |
  A simple app that demonstrates how Helix can use 3rd party APIs.
assistants:
- name: Helix
  description: Responds knowing about the hiring pipeline
  model: llama3.1:8b-instruct-q8_0
  apis:
  - name: Demo Hiring Pipeline API
    description: List all job vacancies, optionally filter by job title and/or candidate name
    url: https://demos.helix.ml
    schema: ./openapi/jobvacancies.yaml

"""

# helixml/docs: content/helix/develop/knowledge/index.md, helix_docs.yaml (trailing spaces
# at line ends dropped)
HELIX_DOCS = """\
# helix_docs.yaml
name: helix-docs
description: |
  A simple app that demonstrates how to setup Helix with knowledge from the Helix docs
assistants:
- name: Helix
  model: meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo
  system_prompt: |
    You are an expert at answering questions about the website https://docs.helix.ml/ and how to
    run the Helix platform. Make sure your answers are detailed but concise. Use
    as much background knowledge as possible to answer the question and provide creative ways
    to resolve the question.
  knowledge:
  - name: helix-docs
    rag_settings:
      results_count: 8
      chunk_size: 2048
    source:
      web:
        urls:
        - https://docs.helix.ml/helix/
        crawler:
          enabled: true
"""

# helixml/helix: examples/crd/bitcoin.yaml (wrapped form, apiVersion v1, an inline schema;
# the schema's body is shortened here)
HELIX_BITCOIN = """\
apiVersion: app.aispec.org/v1
kind: AIApp
metadata:
  name: bitcoin-prices
spec:
  description: I know about bitcoin prices, ask me!!!111234567
  avatar: https://i.kinja-img.com/image/upload/c_fit,q_60,w_645/195319fe96647bc40102cd36d7a42128.jpg
  image: https://static.seekingalpha.com/cdn/s3/uploads/getty_images/1239809188/image_1239809188.jpg?io=getty-c-w1280
  assistants:
    - model: meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo
      # model: llama3.1:8b-instruct-q8_0
      tests: []
      # TODO: write tests for bitcoin price and eth price - currently it
      # incorrectly returns the bitcoin price when you ask for the eth price
      apis:
        - name: bitcoin price
          description: bitcoin price
          url: https://api.coindesk.com/v1
          schema: >
            openapi: 3.0.0

            info:
              title: CoinDesk Bitcoin Price Index API
              description: This service provides current price indexes for Bitcoin in various currencies.
              version: "1.0.0"
            servers:
              - url: https://api.coindesk.com/v1
            paths:
              /bpi/currentprice.json:
                get:
                  operationId: coindeskGetBitcoinCurrentPrice
                  summary: Get current Bitcoin price index
"""  # noqa: E501

HELIX_EXAMPLES = {
    "marvin_paranoid_bot.yaml": HELIX_MARVIN,
    "basic_test.yaml": HELIX_COMEDIAN,
    "api_tools.yaml": HELIX_API_TOOLS,
    "helix_docs.yaml": HELIX_DOCS,
    "bitcoin.yaml": HELIX_BITCOIN,
}

# Everything Homeport adds or keeps, in the wrapped form.
HR_ASSISTANT = """\
apiVersion: app.aispec.org/v1alpha1
kind: AIApp
metadata:
  name: hr-helper
spec:
  name: HR helper
  description: Answers questions about leave, pay and benefits.
  avatar: "🧑‍💼"
  assistants:
    - id: hr
      name: HR
      model: llama3.1:8b
      system_prompt: |
        You answer questions from employees.
        Cite the handbook.
      temperature: 0.2
      top_p: 0.9
      max_tokens: 800
      conversation_starters: ["How many vacation days do I get?"]
      knowledge:
        - name: handbook
          description: The employee handbook
          source:
            web:
              urls: [https://intranet.example/handbook]
              crawler: {enabled: true, max_depth: 2, max_pages: 200}
            text: Payday is the 25th.
            filestore: {path: ./policies/}
          rag_settings: {results_count: 6, threshold: 0.3, chunk_size: 512, chunk_overflow: 64}
          refresh_enabled: true
          refresh_schedule: "0 3 * * *"
        - knowledge_base: benefits
          access: caller
      apis:
        - name: leave
          description: Leave balances
          url: https://hr.example/api
          schema: ./hr-api.yaml
          headers: {Authorization: "Bearer ${HR_TOKEN}"}
          query: {tenant: "${HR_TENANT}"}
          path_params: {region: eu}
      tests:
        - name: leave balance
          steps:
            - prompt: How many days of leave do I have left?
              expected_output: A number of days, from the leave API.
              assertions: [{contains: days}]
"""


def load_one(text: str, source: str = "app.yaml") -> LoadedApp:
    apps = load_documents(text, source=source)
    assert len(apps) == 1
    return apps[0]


def problems_of(text: str, source: str = "marvin.yaml") -> list[str]:
    with pytest.raises(SpecInvalid) as caught:
        load_documents(text, source=source)
    return [str(problem) for problem in caught.value.problems]


# -- loading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("source", sorted(HELIX_EXAMPLES))
def test_helix_examples_load_unchanged(source: str) -> None:
    app = load_one(HELIX_EXAMPLES[source], source)

    assert app.source == source
    assert app.spec.assistants


def test_helix_examples_mean_what_they_say() -> None:
    marvin = load_one(HELIX_MARVIN)
    assert marvin.name == "marvin-the-paranoid-android"
    assert marvin.display_name == "Marvin the Paranoid Android"
    assert marvin.spec.assistants[0].model == "llama3.1:8b-instruct-q8_0"
    assert (marvin.spec.assistants[0].system_prompt or "").startswith("You are Marvin the")

    comedian = load_one(HELIX_COMEDIAN)
    assert comedian.name == "comedian"
    assert [test.name for test in comedian.spec.assistants[0].tests] == ["english", "funny"]
    assert comedian.spec.assistants[0].tests[0].steps[0].prompt == "People"

    docs = load_one(HELIX_DOCS).spec.assistants[0].knowledge[0]
    assert docs.source is not None and docs.source.web is not None
    assert docs.source.web.urls == ["https://docs.helix.ml/helix/"]
    assert docs.source.web.crawler is not None and docs.source.web.crawler.enabled
    assert docs.rag_settings is not None
    assert (docs.rag_settings.results_count, docs.rag_settings.chunk_size) == (8, 2048)
    assert docs.access == "app"

    bitcoin = load_one(HELIX_BITCOIN)
    api = bitcoin.spec.assistants[0].apis[0]
    assert bitcoin.name == "bitcoin-prices" and bitcoin.spec.name is None
    assert schema_kind(api.api_schema) == "inline"
    assert api.api_schema.startswith("openapi: 3.0.0\ninfo:\n  title: CoinDesk")


def test_a_display_name_in_metadata_names_the_app_as_helix_does() -> None:
    app = load_one(
        "apiVersion: app.aispec.org/v1alpha1\nkind: AIApp\nmetadata:\n  name: Test Agent\n"
        "spec:\n  name: Ignored, as Helix ignores it\n  assistants:\n    - model: gpt-4o\n"
    )

    assert app.name == "test-agent"
    assert app.spec.name == "Test Agent"


def test_flat_and_wrapped_forms_give_the_same_app() -> None:
    flat = load_one(HELIX_API_TOOLS)
    wrapped = load_one(
        "apiVersion: app.aispec.org/v1alpha1\nkind: AIApp\nmetadata: {name: api-tools}\nspec:\n"
        + textwrap.indent(HELIX_API_TOOLS, "  ")
    )

    assert (wrapped.name, wrapped.spec) == (flat.name, flat.spec)


def test_several_documents_load_in_order() -> None:
    text = f"# apps for the HR team\n{HR_ASSISTANT}---\n---\n{HELIX_MARVIN}"

    apps = load_documents(text, source="team.yaml")

    assert [(app.name, app.line) for app in apps] == [
        ("hr-helper", 2),
        ("marvin-the-paranoid-android", HR_ASSISTANT.count("\n") + 4),
    ]
    hr = apps[0].spec.assistants[0]
    assert hr.knowledge[1].knowledge_base == "benefits" and hr.knowledge[1].access == "caller"
    assert hr.knowledge[0].source and hr.knowledge[0].source.web
    assert (
        hr.knowledge[0].source.web.crawler and hr.knowledge[0].source.web.crawler.max_pages == 200
    )
    (days,) = hr.tests[0].steps[0].assertions
    assert (days.type, getattr(days, "value", None)) == ("contains", "days")  # the short form


def test_values_read_as_written_where_text_is_wanted() -> None:
    app = load_one(
        "name: calc\ndescription: 3.10\nassistants:\n- conversation_starters: [yes, 2024-01-01]\n"
        "  apis: [{name: a, schema: a.yaml, headers: {X-Version: 2}}]\n"
        "  tests: [{name: sum, steps: [{prompt: '2 + 2?', expected_output: 4}]}]\n"
    )

    assistant = app.spec.assistants[0]
    assert app.spec.description == "3.10"
    assert assistant.conversation_starters == ["yes", "2024-01-01"]
    assert assistant.apis[0].headers == {"X-Version": "2"}
    assert assistant.tests[0].steps[0].expected_output == "4"


def test_empty_helix_fields_are_ignored_as_a_helix_export_writes_them() -> None:
    app = load_one(
        "name: exported\ntriggers: []\nexternal_agent_enabled: false\nassistants:\n"
        "- model: m\n  agent_type: ''\n  max_iterations: 0\n  reasoning_model: ''\n"
        "  browser: {enabled: false, cache: false}\n  tools: []\n  type: text\n"
        "  knowledge:\n  - name: k\n    source: {text: hi, s3: {bucket: '', path: ''}}\n"
        "    rag_settings: {distance_function: '', results_count: 3}\n"
    )

    assert app.spec.assistants[0].knowledge[0].rag_settings is not None


# -- problems ----------------------------------------------------------------------------------

MARVIN_WITH_TYPOS = """\
name: marvin
description: A depressed robot
assistants:
  - name: Marvin
    model: llama3.1:8b
    temperature: hot
    system_promt: |
      You are Marvin.
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MARVIN_WITH_TYPOS,
            [
                "marvin.yaml:6:18: assistants[0].temperature: expected a number, got 'hot'",
                "marvin.yaml:7:5: assistants[0].system_promt: unknown key; "
                "did you mean 'system_prompt'?",
            ],
        ),
        (
            "name: m\nassistants:\n  - apis:\n      - description: no name\n"
            "        schema: a.yaml\n",
            ["marvin.yaml:4:9: assistants[0].apis[0].name: missing required field"],
        ),
        (
            "name: m\nassistants: []\n",
            ["marvin.yaml:2:13: assistants: needs at least 1 item"],
        ),
        (
            "name: m\nassistants:\n  - top_p: 3\n    max_tokens: 1.5\n    knowledge: {}\n",
            [
                "marvin.yaml:3:12: assistants[0].top_p: must be at most 1, got 3",
                "marvin.yaml:4:17: assistants[0].max_tokens: expected a whole number, got 1.5",
                "marvin.yaml:5:16: assistants[0].knowledge: expected a list, got a mapping",
            ],
        ),
        (
            "name: m\nassistants:\n  - knowledge:\n      - knowledge_base: kb\n"
            "        access: everyone\n",
            [
                "marvin.yaml:5:17: assistants[0].knowledge[0].access: "
                "expected 'app' or 'caller', got 'everyone'"
            ],
        ),
        (
            "name: m\nassistants:\n  - knowledge:\n      - name: k\n        knowledge_base: kb\n"
            "        source: {text: hi}\n",
            [
                "marvin.yaml:4:9: assistants[0].knowledge[0]: "
                "give either a source or a knowledge_base (an existing base)"
            ],
        ),
        (
            "name: m\nassistants:\n  - knowledge:\n      - name: k\n"
            "        source: {web: {urls: [ftp://x]}, content: hi}\n"
            "        rag_settings: {chunk_overlap: 10}\n        refresh_schedule: '@every 2h'\n",
            [
                "marvin.yaml:5:31: assistants[0].knowledge[0].source.web.urls[0]: "
                "expected an http or https URL, got 'ftp://x'",
                "marvin.yaml:5:42: assistants[0].knowledge[0].source.content: "
                "unknown key; did you mean 'text'?",
                "marvin.yaml:6:24: assistants[0].knowledge[0].rag_settings.chunk_overlap: "
                "unknown key; did you mean 'chunk_overflow'?",
                "marvin.yaml:7:27: assistants[0].knowledge[0].refresh_schedule: "
                "'@every 2h' is not a cron schedule (e.g. '0 3 * * *' for 03:00 every day)",
            ],
        ),
        (
            "name: m\ntriggers:\n  - discord: {server_name: HelixML}\nassistants:\n"
            "  - memory: true\n",
            [
                "marvin.yaml:2:1: triggers: a Helix field Homeport does not support "
                "(Slack, Discord, Teams, cron and other triggers)",
                "marvin.yaml:5:5: assistants[0].memory: a Helix field Homeport does not support "
                "(memory across sessions)",
            ],
        ),
        (
            "name: m\ncolour: blue\nassistants: [{}]\n",
            [
                "marvin.yaml:2:1: colour: unknown key; "
                "expected one of: name, description, avatar, image, assistants"
            ],
        ),
        (
            "name: m\nassistants:\n  - id: helper\n    system_prompt: ''\n  - id: helper\n"
            "    apis: [{name: a, schema: hr.txt}]\n",
            [
                "marvin.yaml:5:9: assistants[1].id: 'helper' is already the id of assistants[0]",
                "marvin.yaml:6:30: assistants[1].apis[0].schema: "
                "a one-line schema names a file, which must end in .yaml, .yml or .json",
            ],
        ),
        (
            "name: m\nname: n\nassistants: [{}]\n",
            ["marvin.yaml:2:1: name: duplicate key"],
        ),
        (
            "apiVersion: app.aispec.org/v2\nkind: App\nmetadata: {name: m, labels: {}}\nspek: {}\n",
            [
                "marvin.yaml:1:1: spec: missing required field",
                "marvin.yaml:1:13: apiVersion: expected 'app.aispec.org/v1alpha1', "
                "got 'app.aispec.org/v2'",
                "marvin.yaml:2:7: kind: expected 'AIApp', got 'App'",
                "marvin.yaml:3:21: metadata.labels: unknown key; expected one of: name",
                "marvin.yaml:4:1: spek: unknown key; did you mean 'spec'?",
            ],
        ),
        (
            "apiVersion: app.aispec.org/v1alpha1\nkind: AIApp\nspec:\n  assistants: [{}]\n",
            ["marvin.yaml:1:1: metadata.name: missing required field; an app needs a name"],
        ),
        ("- name: m\n", ["marvin.yaml:1:1: expected an app (a mapping), got a list"]),
        (
            "name: m\nassistants:\n  - model: [\n",
            [
                "marvin.yaml:4:1: YAML syntax error: "
                "expected the node content, but found '<stream end>' (while parsing a flow node)"
            ],
        ),
        ("# nothing yet\n", ["marvin.yaml: no app in this file"]),
        (
            "name: m\nassistants: [{}]\n---\nname: m\nassistants: [{}]\n",
            ["marvin.yaml:4:1: the app 'm' is defined twice (first at line 1)"],
        ),
    ],
)
def test_each_problem_is_named_and_placed(text: str, expected: list[str]) -> None:
    assert problems_of(text) == expected


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    text = (
        MARVIN_WITH_TYPOS
        + "---\nname: second\nassistants:\n  - temperature: 3\n"
        + "---\nname: third\nassistants: [\n"
    )

    with pytest.raises(SpecInvalid) as caught:
        load_documents(text, source="marvin.yaml")

    error = caught.value
    assert isinstance(error, ValidationFailed) and error.code == "spec_invalid"
    assert [(p.line, p.path) for p in error.problems] == [
        (6, "assistants[0].temperature"),
        (7, "assistants[0].system_promt"),
        (12, "assistants[0].temperature"),
        (16, ""),
    ]
    assert error.message == "\n".join(str(p) for p in error.problems)
    assert error.problems[2] == SpecProblem(
        "marvin.yaml", 12, 18, "assistants[0].temperature", "must be at most 2, got 3"
    )


def test_a_request_body_is_checked_the_same_without_lines() -> None:
    with pytest.raises(SpecInvalid) as caught:
        load_mapping({"name": "m", "assistants": [{"temperature": "hot"}]})

    assert caught.value.message == (
        "<request>: assistants[0].temperature: expected a number, got 'hot'"
    )
    assert load_mapping(yaml.safe_load(HELIX_MARVIN)).name == "marvin-the-paranoid-android"


def test_a_later_problem_points_at_the_line_it_is_about() -> None:
    app = load_one(HR_ASSISTANT, "hr.yaml")

    problem = app.problem(("assistants", 0, "model"), "no model 'llama3.1:8b' on this server")

    assert str(problem) == (
        "hr.yaml:12:14: assistants[0].model: no model 'llama3.1:8b' on this server"
    )


# -- references --------------------------------------------------------------------------------


def test_secret_references_are_found_not_resolved() -> None:
    app = load_one(
        HR_ASSISTANT.replace("Payday is the 25th.", "Ask ${HR_CONTACT}; not $HOME or ${ x }.")
    )

    assert secret_references(app.spec) == {"HR_TOKEN", "HR_TENANT", "HR_CONTACT"}
    assert app.spec.assistants[0].apis[0].headers["Authorization"] == "Bearer ${HR_TOKEN}"


def test_file_references_name_files_next_to_the_app_file() -> None:
    app = load_one(HR_ASSISTANT)

    assert file_references(app.spec) == [
        ("assistants[0].apis[0].schema", "./hr-api.yaml"),
        ("assistants[0].knowledge[0].source.filestore.path", "./policies/"),
    ]
    assert file_references(load_one(HELIX_BITCOIN).spec) == []


def test_resolving_files_inlines_schemas(tmp_path: Path) -> None:
    (tmp_path / "hr-api.yaml").write_text("openapi: 3.0.0\ninfo: {title: HR}\n")
    app = load_one(HR_ASSISTANT, "hr.yaml")

    resolved = app.with_files(tmp_path)

    assert resolved.spec.assistants[0].apis[0].api_schema == "openapi: 3.0.0\ninfo: {title: HR}\n"
    assert file_references(resolved.spec) == [
        ("assistants[0].knowledge[0].source.filestore.path", "./policies/")
    ]
    assert resolve_files(app.spec, tmp_path) == resolved.spec


def test_a_missing_or_escaping_schema_file_is_a_placed_problem(tmp_path: Path) -> None:
    text = HR_ASSISTANT.replace(
        "      tests:",
        "        - name: payroll\n          schema: ../payroll.yaml\n      tests:",
    )
    app = load_one(text, "hr.yaml")

    with pytest.raises(SpecInvalid) as caught:
        app.with_files(tmp_path)

    assert [str(p) for p in caught.value.problems] == [
        f"hr.yaml:38:19: assistants[0].apis[0].schema: no file './hr-api.yaml' "
        f"(looked for {tmp_path.resolve() / 'hr-api.yaml'})",
        f"hr.yaml:43:19: assistants[0].apis[1].schema: '../payroll.yaml' is outside "
        f"{tmp_path.resolve()}; schema files must be inside it",
    ]


# -- canonical forms ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", [*HELIX_EXAMPLES.values(), HR_ASSISTANT])
def test_dumped_yaml_loads_back_to_the_same_app(text: str) -> None:
    app = load_one(text)

    dumped = dump_app(app.spec, app.name)
    again = load_one(dumped)

    assert (again.name, again.spec) == (app.name, app.spec)
    assert dump_app(again.spec, again.name) == dumped


@pytest.mark.parametrize(
    "prompt",
    ["  indented\nx", "trailing space \nx", "blank lines\n\n", "---\n...\n# no\n", "x\r\ny"],
)
def test_awkward_text_survives_the_round_trip(prompt: str) -> None:
    spec = AppSpec.model_validate({"assistants": [{"system_prompt": prompt}]})

    assert load_one(dump_app(spec, "awkward")).spec == spec


def test_dumped_yaml_is_the_wrapped_form_with_prompts_as_blocks() -> None:
    app = load_one(HELIX_MARVIN)

    dumped = dump_app(app.spec, app.name)

    assert dumped.startswith(
        "apiVersion: app.aispec.org/v1alpha1\nkind: AIApp\nmetadata:\n"
        "  name: marvin-the-paranoid-android\nspec:\n  name: Marvin the Paranoid Android\n"
    )
    assert "    system_prompt: |\n      You are Marvin the Paranoid Android." in dumped


def test_dump_refuses_a_name_that_is_no_app_name() -> None:
    with pytest.raises(ValidationFailed, match="not an app name"):
        dump_app(AppSpec.model_validate({"assistants": [{}]}), "Marvin the Android")


def test_the_json_schema_accepts_an_app_and_refuses_unknown_keys() -> None:
    schema = app_json_schema()
    document = yaml.safe_load(dump_app(load_one(HR_ASSISTANT).spec, "hr-helper"))

    assert violations(schema, document) == []
    document["spec"]["assistants"][0]["system_promt"] = "typo"
    document["spec"]["assistants"][0]["temperature"] = 3
    assert violations(schema, document) == [
        "spec.assistants.0.temperature: 3 is above 2",
        "spec.assistants.0: unexpected key 'system_promt'",
    ]
    assert json.dumps(app_json_schema()) == json.dumps(schema)


def violations(schema: dict[str, Any], value: Any, path: str = "", root: Any = None) -> list[str]:
    """A small JSON Schema checker: the keywords the app schema uses."""
    root = root or schema
    if "$ref" in schema:
        return violations(root["$defs"][schema["$ref"].split("/")[-1]], value, path, root)
    if "anyOf" in schema:
        found = [violations(option, value, path, root) for option in schema["anyOf"]]
        return [] if [] in found else found[0]
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    wanted = schema.get("type")
    if wanted in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return [f"{path}: not a number"]
        if "maximum" in schema and value > schema["maximum"]:
            return [f"{path}: {value} is above {schema['maximum']}"]
        return []
    if wanted in kinds and not isinstance(value, kinds[wanted]):
        return [f"{path}: not {wanted}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: not one of {schema['enum']}"]
    if isinstance(value, dict):
        return _object_violations(schema, value, path, root)
    if isinstance(value, list) and "items" in schema:
        return [
            e
            for i, item in enumerate(value)
            for e in violations(schema["items"], item, f"{path}.{i}", root)
        ]
    return []


def _object_violations(
    schema: dict[str, Any], value: dict[str, Any], path: str, root: Any
) -> list[str]:
    properties = schema.get("properties", {})
    found = [f"{path}: missing {key!r}" for key in schema.get("required", []) if key not in value]
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key in properties:
            found += violations(properties[key], item, where, root)
        elif schema.get("additionalProperties") is False:
            found.append(f"{path}: unexpected key {key!r}")
        elif isinstance(schema.get("additionalProperties"), dict):
            found += violations(schema["additionalProperties"], item, where, root)
    return found

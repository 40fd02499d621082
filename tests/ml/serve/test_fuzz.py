"""Schema-driven fuzzing with schemathesis: requests generated from the service's own OpenAPI
document (valid and invalid bodies, odd paths, headers and methods) get answers that document
describes, from the real service, under every check schemathesis has: no server error, statuses,
content types, headers and bodies as documented, invalid requests refused, valid ones accepted,
405 answers with their Allow header.

Hypothesis drives each operation's strategy directly (schemathesis' lazy pytest fixture does not
work with this pytest version); every operation gets a bounded number of examples.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Err, Ok

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 50


# Every check schemathesis has, with one allowance: a tensor's `data` must hold as many numbers as
# its `shape` says, and the shape must be the model's, which JSON Schema cannot express; so a
# schema-valid inference request may still get 400 naming the mismatch.
CONFIG = {
    "operations": [
        {
            "include-method": "POST",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404"]}},
        }
    ]
}


def test_the_service_keeps_its_published_contract(digits_service):
    config = schemathesis.config.SchemathesisConfig.from_dict(CONFIG)
    schema = schemathesis.openapi.from_url(f"{digits_service}/openapi.json", config=config)
    results = list(schema.get_all_operations())
    assert not [result.err() for result in results if isinstance(result, Err)]
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert {op.path for op in operations} >= {
        "/v2/models/{name}/infer",
        "/v1/models/{name}:predict",
    }
    for operation in operations:
        fuzz(operation)


def fuzz(operation) -> None:
    # Valid requests by the schema (which the model still refuses when shapes do not match) and
    # invalid ones: wrong types, missing fields, odd content types and path values. Valid ones
    # name the served model so they reach it rather than the 404 branch.
    named = {"name": "digits"} if "{name}" in operation.path else None
    valid = operation.as_strategy(GenerationMode.POSITIVE, path_parameters=named)
    invalid = operation.as_strategy(GenerationMode.NEGATIVE)

    @given(case=st.one_of(valid, invalid))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        case.call_and_validate()

    check()

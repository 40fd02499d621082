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


# Every check schemathesis has, with two allowances JSON Schema cannot express: a tensor's `data`
# must hold as many numbers as its `shape` says, the shape must be the model's, and an encoded
# image must be a real PNG or JPEG, so a schema-valid inference request may still get 400 naming
# the mismatch; and the batch and pixel limits are the deployment's settings (the image service
# here takes 8 rows a request), so it may get 413.
CONFIG = {
    "operations": [
        {
            "include-method": "POST",
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404", "413"]}
            },
        }
    ]
}


@pytest.mark.parametrize(
    ("service", "name"), [("digits_service", "digits"), ("image_service", "shapes")]
)
def test_the_service_keeps_its_published_contract(request, service: str, name: str):
    """For a model of tensors and for one that also takes encoded images (v1 b64, v2 BYTES)."""
    url = request.getfixturevalue(service)
    config = schemathesis.config.SchemathesisConfig.from_dict(CONFIG)
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)
    results = list(schema.get_all_operations())
    assert not [result.err() for result in results if isinstance(result, Err)]
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert {op.path for op in operations} >= {
        "/v2/models/{name}/infer",
        "/v1/models/{name}:predict",
    }
    for operation in operations:
        fuzz(operation, name)


def fuzz(operation, name: str) -> None:
    # Valid requests by the schema (which the model still refuses when shapes do not match) and
    # invalid ones: wrong types, missing fields, odd content types and path values. Valid ones
    # name the served model so they reach it rather than the 404 branch.
    named = {"name": name} if "{name}" in operation.path else None
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

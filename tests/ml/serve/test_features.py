"""Named tabular features encoded as at training time: values as they are, categories one-hot,
null as the training fill value, an unseen category as all zeros; wrong names and types refused
with a 400 naming the field. (The same through the service is in test_app.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from ml.serve.features import NamedFeatures
from tests.serving import rejected

ENCODING: dict[str, list] = {
    "numeric": [{"name": "age", "fill": 40.0}, {"name": "income", "fill": 50.0}],
    "categorical": [{"name": "city", "fill": "Lyon", "categories": ["Lyon", "Nice", "Paris"]}],
    "encoded_columns": ["age", "income", "city=Lyon", "city=Nice", "city=Paris"],
}


def test_named_features_encode_like_training():
    named = NamedFeatures(ENCODING)
    rows = named.rows(
        [
            {"age": 30, "income": 12.5, "city": "Paris"},
            {"age": None, "income": 1, "city": None},  # nulls take the training fill values
            {"age": 1, "income": 2, "city": "Atlantis"},  # unseen category: all zeros
        ]
    )
    expected = [[30, 12.5, 0, 0, 1], [40, 1, 1, 0, 0], [1, 2, 0, 0, 0]]
    np.testing.assert_array_equal(rows, np.asarray(expected, dtype=np.float32))


def test_named_features_refuse_wrong_names_and_types():
    named = NamedFeatures(ENCODING)
    message = rejected(named.rows, [{"age": 1, "city": "Lyon", "zip": 1}])
    assert message == (
        "instances[0]: missing features: income; unknown features: zip "
        "(this model takes: age, income, city)"
    )
    assert "instances[0].age must be a number (or null), got '30'" in rejected(
        named.rows, [{"age": "30", "income": 1, "city": "Lyon"}]
    )
    assert "instances[0].age must be a number" in rejected(
        named.rows, [{"age": True, "income": 1, "city": "Lyon"}]
    )
    assert "instances[0].city must be text or a number" in rejected(
        named.rows, [{"age": 1, "income": 1, "city": ["Lyon"]}]
    )
    assert "too large" in rejected(named.rows, [{"age": 10**400, "income": 1, "city": "Lyon"}])


def test_a_category_given_as_a_number_matches_its_text():
    encoding = {
        "numeric": [],
        "categorical": [{"name": "zip", "fill": "75001", "categories": ["69001", "75001"]}],
        "encoded_columns": ["zip=69001", "zip=75001"],
    }
    rows = NamedFeatures(encoding).rows([{"zip": 69001}, {"zip": None}])
    np.testing.assert_array_equal(rows, np.asarray([[1, 0], [0, 1]], dtype=np.float32))


def test_an_encoding_whose_columns_do_not_add_up_is_refused():
    broken = ENCODING | {"encoded_columns": ENCODING["encoded_columns"][:-1]}
    with pytest.raises(ValueError, match="numeric and one-hot columns do not add up"):
        NamedFeatures(broken)

"""The kserve target: the manifest written, and applied with kubectl only when asked. (The
manifest itself, rendered and validated against the KServe schema: test_kserve_manifest.py.)"""

from __future__ import annotations

import shutil

import pytest
import yaml

from ml.config import parse_params
from ml.deploy.kserve import KServeTarget
from ml.errors import UserError


def params(**kserve):
    return parse_params({"serve": {"model_name": "digits"}, "deploy": {"kserve": kserve}})


def test_without_apply_the_manifest_is_written_and_nothing_applied(registered, tmp_path):
    target = KServeTarget(tmp_path, params())
    assert target.deploy(registered, timeout=5) is None
    documents = list(yaml.safe_load_all(target.manifest.read_text()))
    assert [d["kind"] for d in documents] == ["InferenceService"]
    assert "not applied" in target.describe()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_apply_reports_kubectls_error_when_no_cluster_answers(registered, tmp_path, monkeypatch):
    # An empty kubeconfig: kubectl has no cluster to reach and must say so, not hang.
    (tmp_path / "kubeconfig").write_text("")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    target = KServeTarget(tmp_path, params(apply=True))
    with pytest.raises(UserError, match="`kubectl apply` failed: "):
        target.deploy(registered, timeout=5)
    assert target.manifest.is_file()  # what would have been applied stays for inspection


def test_replica_bounds_are_checked():
    with pytest.raises(UserError, match="max_replicas \\(1\\) is below min_replicas \\(2\\)"):
        params(min_replicas=2)

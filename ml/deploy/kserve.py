"""The `kserve` target: the manifest from ml/deploy/kserve_manifest.py, written to
<state-dir>/kserve/inferenceservice.yaml and, when deploy.kserve.apply is set (the deploy
workflow sets it), applied with kubectl, waited for and smoke-tested at its URL."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from ml.config import Params
from ml.deploy.kserve_manifest import render
from ml.deploy.registry import RegisteredModel
from ml.deploy.smoke import wait_for_version
from ml.errors import UserError
from ml.io import write_text


class KServeTarget:
    name = "kserve"

    def __init__(self, state_dir: Path, params: Params) -> None:
        self.dir = (state_dir / "kserve").resolve()
        self.manifest = self.dir / "inferenceservice.yaml"
        self.params = params
        self.settings = params.deploy.kserve
        self.service = params.serve.model_name
        self.note = ""

    def deploy(self, model: RegisteredModel, timeout: float) -> str | None:
        documents = render(self.service, model, self.params)
        self.dir.mkdir(parents=True, exist_ok=True)
        write_text(self.manifest, yaml.safe_dump_all(documents, sort_keys=False))
        if not self.settings.apply:
            self.note = f"rendered {self.manifest}; not applied (deploy.kserve.apply is false)"
            return None
        namespace = ["--namespace", self.settings.namespace]
        self.kubectl("apply", "--validate=strict", "-f", str(self.manifest))
        self.kubectl(
            "wait",
            "--for=condition=Ready",
            f"inferenceservice/{self.service}",
            *namespace,
            f"--timeout={int(timeout)}s",
            timeout=timeout + 30,
        )
        url = (
            self.settings.url
            or self.kubectl(
                "get", "inferenceservice", self.service, *namespace, "-o", "jsonpath={.status.url}"
            ).stdout.strip()
        )
        if not url:
            raise UserError(f"inferenceservice/{self.service} is ready but reports no URL")
        wait_for_version(url, self.service, model.short_sha, timeout, self.params.serve.workers)
        return url

    def kubectl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        try:
            result = subprocess.run(
                ["kubectl", *args], capture_output=True, text=True, timeout=timeout
            )
        except FileNotFoundError:
            raise UserError("kubectl is not installed (no `kubectl` on PATH)") from None
        except subprocess.TimeoutExpired:
            raise UserError(f"`kubectl {args[0]}` did not finish within {timeout:g} s") from None
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip()[-800:]
            raise UserError(f"`kubectl {args[0]}` failed: {tail}")
        return result

    def running(self) -> bool:
        try:
            ready = self.kubectl(
                "get",
                "inferenceservice",
                self.service,
                "--namespace",
                self.settings.namespace,
                "-o",
                "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
            )
        except UserError:
            return False
        return ready.stdout.strip() == "True"

    def restart_service(self) -> None:
        """Delete the predictor pods; their Deployment starts new ones."""
        selector = f"serving.kserve.io/inferenceservice={self.service}"
        self.kubectl("delete", "pod", "-l", selector, "--namespace", self.settings.namespace)

    def stop(self) -> None:
        if self.settings.apply:
            self.kubectl(
                "delete",
                "inferenceservice",
                self.service,
                "--namespace",
                self.settings.namespace,
                "--ignore-not-found",
            )

    def describe(self) -> str:
        return self.note or f"inferenceservice/{self.service} in {self.settings.namespace}"

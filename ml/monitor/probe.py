"""Is the deployed service up and serving? A few attempts, each with a timeout."""

from __future__ import annotations

import dataclasses
import time

import httpx


@dataclasses.dataclass(frozen=True)
class ServiceProbe:
    """What probing the deployed service found: ready and serving `version`, or why not."""

    ok: bool
    detail: str
    version: str | None = None


def probe(url: str, name: str, attempts: int, timeout: float, pause: float = 1.0) -> ServiceProbe:
    """Ready and answering model metadata; `attempts` tries, `pause` seconds apart."""
    last = ServiceProbe(False, "not probed")
    for attempt in range(1, attempts + 1):
        last = probe_once(url, name, timeout)
        if last.ok:
            return last
        if attempt < attempts:
            time.sleep(pause)
    return ServiceProbe(False, f"{last.detail} ({attempts} attempts)")


def probe_once(url: str, name: str, timeout: float) -> ServiceProbe:
    try:
        with httpx.Client(base_url=url, timeout=timeout) as client:
            ready = client.get("/v2/health/ready")
            if ready.status_code != 200:
                return ServiceProbe(False, f"{url}/v2/health/ready answered {ready.status_code}")
            metadata = client.get(f"/v2/models/{name}")
            if metadata.status_code != 200:
                answered = f"{url}/v2/models/{name} answered {metadata.status_code}"
                return ServiceProbe(False, answered)
            version = metadata.json()["versions"][0]
    except httpx.TimeoutException:
        return ServiceProbe(False, f"{url} did not answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return ServiceProbe(False, f"{url} is unreachable: {type(exc).__name__}")
    except (ValueError, KeyError, IndexError, TypeError):  # TypeError: JSON, but not an object
        not_oip = f"{url}/v2/models/{name} answered something else than OIP metadata"
        return ServiceProbe(False, not_oip)
    return ServiceProbe(True, f"{url} ready, serving version {version}", version)

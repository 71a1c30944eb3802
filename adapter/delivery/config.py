"""Delivery configuration (a YAML file, ``ball-fhir deliver --config``): the FHIR server, how
to authenticate, how Bundles are split, the retry policy and the worker's lease.

```yaml
server:
  base_url: https://fhir.hospital.example/R4
  timeout: 30             # seconds, connect and read
  max_entries: 8          # split policy (adapter.delivery.split); 0: never split
  bearer_token_env: FHIR_TOKEN           # a static bearer token from this variable, or
  smart:                                 # SMART Backend Services client credentials
    token_url: https://auth.hospital.example/token
    client_id: ball-fhir
    private_key_file: /etc/ball-fhir/client-key.pem   # RS384 or ES384 key (PEM)
    key_id: ball-fhir-2026
    algorithm: RS384
    scope: system/*.write system/Patient.read
retry: {base: 1, max_delay: 300, max_attempts: 10}
lease_seconds: 300
poll_seconds: 1
```

The JSON Schema of this file is ``DeliveryConfig.model_json_schema()``, published as
``examples/delivery.schema.json`` (a test keeps the two equal).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from adapter.delivery.policy import RetryPolicy
from adapter.issues import UsageError

#: the largest transaction Medplum accepts with a conditional create in it (split.py)
MEDPLUM_STRICT_MAX_ENTRIES = 8


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SmartBackend(_Strict):
    """SMART Backend Services (https://hl7.org/fhir/smart-app-launch/backend-services.html):
    a signed JWT assertion exchanged for an access token (client_credentials)."""

    token_url: str
    client_id: str
    private_key_file: Path
    key_id: str | None = None
    algorithm: Literal["RS384", "ES384"] = "RS384"
    scope: str = "system/*.write system/Patient.read"


class ServerConfig(_Strict):
    base_url: str
    timeout: float = Field(30.0, gt=0)
    max_entries: int = Field(MEDPLUM_STRICT_MAX_ENTRIES, ge=0)
    bearer_token_env: str | None = None
    smart: SmartBackend | None = None

    @model_validator(mode="after")
    def _one_auth(self) -> ServerConfig:
        if self.bearer_token_env and self.smart:
            raise ValueError("give bearer_token_env or smart, not both")
        if 0 < self.max_entries < 3:
            raise ValueError("max_entries is 0 (never split) or at least 3")
        return self


class RetryConfig(_Strict):
    base: float = Field(1.0, gt=0)
    max_delay: float = Field(300.0, gt=0)
    max_attempts: int = Field(10, ge=1)

    def policy(self) -> RetryPolicy:
        return RetryPolicy(self.base, self.max_delay, self.max_attempts)


class DeliveryConfig(_Strict):
    server: ServerConfig
    retry: RetryConfig = RetryConfig()
    #: how long a worker owns an item it is delivering (renewed after each chunk)
    lease_seconds: float = Field(300.0, gt=0)
    #: how often an idle worker looks for due items
    poll_seconds: float = Field(1.0, gt=0)


def load_delivery_config(path: Path) -> DeliveryConfig:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return DeliveryConfig.model_validate(data)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        raise UsageError(f"{path}: {exc}") from None

"""Delivery of stored items to the hospital FHIR server (layout.md: ``adapter/delivery/``).

:mod:`~adapter.delivery.config` (server, auth, split and retry settings),
:mod:`~adapter.delivery.client` (``requests``), :mod:`~adapter.delivery.policy` (retries,
backoff with jitter, ``Retry-After``), :mod:`~adapter.delivery.split` (Bundle chunks),
:mod:`~adapter.delivery.patients` (the Patient update policy) and
:mod:`~adapter.delivery.worker` (the loop).
"""

from adapter.delivery.client import DeliveryFailed, FhirClient
from adapter.delivery.config import DeliveryConfig, ServerConfig, load_delivery_config
from adapter.delivery.policy import RetryPolicy
from adapter.delivery.split import split_bundle
from adapter.delivery.worker import Tally, Worker

__all__ = [
    "DeliveryConfig",
    "DeliveryFailed",
    "FhirClient",
    "RetryPolicy",
    "ServerConfig",
    "Tally",
    "Worker",
    "load_delivery_config",
    "split_bundle",
]

"""Receiving items: ingest of one received item into the store (:mod:`adapter.intake.ingest`)
and the MLLP listener (:mod:`adapter.intake.mllp`)."""

from adapter.intake.ingest import Ingested, ItemMapper, ingest, map_stored

__all__ = ["Ingested", "ItemMapper", "ingest", "map_stored"]

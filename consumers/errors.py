"""Errors of the Kafka layer, beneath the detector's one root (``DetectorError``),
so the command line reports them as one line with their exit code."""

from __future__ import annotations

from typing import ClassVar

from detector.errors import DetectorError


class KafkaLayerError(DetectorError):
    """The cluster or the embedded broker could not give the service what it needs."""

    exit_code: ClassVar[int] = 1


class BrokerError(KafkaLayerError):
    """The embedded broker (Tansu) could not be started or is missing."""


class TopicError(KafkaLayerError):
    """A topic is missing, or exists with a layout the service cannot work with."""


class ConnectFailure(KafkaLayerError):
    """The cluster refused the service's connection for a reason a setting can fix."""

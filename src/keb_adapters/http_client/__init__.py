"""An OSB client for any keb or KEB broker, spoken over HTTP (``keb client``)."""

from keb_adapters.http_client.broker import (
    OSB_VERSION,
    BrokerClient,
    BrokerError,
    BrokerUnreachableError,
    Operation,
    client_credentials_token,
)

__all__ = [
    "OSB_VERSION",
    "BrokerClient",
    "BrokerError",
    "BrokerUnreachableError",
    "Operation",
    "client_credentials_token",
]

"""Rows <-> domain objects, with cattrs: the column names are KEB's where they differ from ours."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from keb_domain.model.binding import Binding
from keb_domain.model.instance import ArchivedInstance, Instance
from keb_domain.model.operation import Operation

T = TypeVar("T")

converter = cattrs.Converter()
# Datetimes stay datetimes: the UtcDateTime column type stores and reads them.
converter.register_unstructure_hook(datetime, lambda value: value)
converter.register_structure_hook(datetime, lambda value, _: value)


def _columns(cls: type[Any], **renames: str) -> None:
    overrides: dict[str, Any] = {attribute: override(rename=column) for attribute, column in renames.items()}
    converter.register_unstructure_hook(cls, make_dict_unstructure_fn(cls, converter, **overrides))
    converter.register_structure_hook(cls, make_dict_structure_fn(cls, converter, **overrides))


_columns(
    Instance,
    plan_id="service_plan_id",
    plan_name="service_plan_name",
    cluster_region="provider_region",
    credentials_binding="subscription_secret_name",
)
_columns(Operation)
_columns(ArchivedInstance, platform_region="subaccount_region", cluster_region="region")
_columns(Binding, binding_id="id", strategy="binding_type", credentials="kubeconfig")


def to_row(value: object) -> dict[str, Any]:
    row: dict[str, Any] = converter.unstructure(value)
    return row


def from_row(row: Mapping[Any, Any], cls: type[T]) -> T:
    return converter.structure(dict(row), cls)

"""The tables, built from the migrations' column definitions (the schema is written once, there)."""

from __future__ import annotations

import sqlalchemy as sa

from keb_adapters.sql.migrations.versions import v0001_initial as v1
from keb_adapters.sql.migrations.versions import v0002_bindings as v2
from keb_adapters.sql.migrations.versions import v0004_credentials_binding as v4

metadata = sa.MetaData()

instances = sa.Table("instances", metadata, *v1.instances_columns(), *v4.instances_columns())
operations = sa.Table("operations", metadata, *v1.operations_columns())
instances_archived = sa.Table("instances_archived", metadata, *v1.archived_columns())
events = sa.Table("events", metadata, *v1.events_columns())
bindings = sa.Table("bindings", metadata, *v2.bindings_columns())

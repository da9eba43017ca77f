"""keb_adapters."""

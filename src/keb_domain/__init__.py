"""keb_domain."""

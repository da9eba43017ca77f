"""keb_app."""

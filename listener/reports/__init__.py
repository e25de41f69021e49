"""What marketers read: report figures, the report page, the weekly digest, Datasette wiring."""

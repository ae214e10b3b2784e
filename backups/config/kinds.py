"""The configuration record kinds of a snapshot (issue 19), named once for the manifest, the
capture and the change view."""

SCHEME_KINDS = (
    "issue_type_schemes",
    "screens",
    "screen_schemes",
    "issue_type_screen_schemes",
    "field_configurations",
    "field_configuration_schemes",
    "permission_schemes",
    "notification_schemes",
    "issue_security_schemes",
)
SHARED_KINDS = ("filters", "dashboards")
CONFIG_KINDS = ("project_schemes", *SCHEME_KINDS, *SHARED_KINDS)

from django.apps import AppConfig


class OpsConfig(AppConfig):
    """The staff operations app: every admin registration and action, the dashboard and quota
    planner, bulk operations and campaigns, the compliance report and the operators' commands.
    It sits on top: it may import every other app, and none imports it."""

    name = "ops"
    verbose_name = "Operations"

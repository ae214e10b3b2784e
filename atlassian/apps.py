from django.apps import AppConfig


class AtlassianConfig(AppConfig):
    name = "atlassian"
    verbose_name = "Atlassian API usage"

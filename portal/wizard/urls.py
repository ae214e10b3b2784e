"""URLs of the migration wizard (namespace ``wizard``), included from ``portal/urls.py``."""

from django.urls import path

from portal.wizard import views

app_name = "wizard"

urlpatterns = [
    path("migrate/invite/<str:token>/", views.invite_accept, name="invite"),
    path("t/<slug:tenant_slug>/migrate/", views.wizard_list, name="list"),
    path("t/<slug:tenant_slug>/migrate/<int:case_id>/", views.wizard_resume, name="resume"),
    path(
        "t/<slug:tenant_slug>/migrate/<int:case_id>/authorize/start/",
        views.wizard_authorize,
        name="authorize",
    ),
    path(
        "t/<slug:tenant_slug>/migrate/<int:case_id>/cutover/run/",
        views.wizard_cutover,
        name="cutover",
    ),
    path(
        "t/<slug:tenant_slug>/migrate/<int:case_id>/remove/confirm/",
        views.wizard_remove,
        name="remove",
    ),
    path(
        "t/<slug:tenant_slug>/migrate/<int:case_id>/<slug:step>/",
        views.wizard_step,
        name="step",
    ),
]

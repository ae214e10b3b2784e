from django.contrib import admin
from django.urls import include, path

from portal import views

portal_patterns = [
    path("", views.home, name="home"),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include((portal_patterns, "portal"))),
]

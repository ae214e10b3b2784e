from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from portal import mfa, protection, views, views_connect

# The admin signs in through allauth (rate limits, MFA stage); it has no login form of its own.
admin.site.login = secure_admin_login(admin.site.login)

portal_patterns = [
    path("", views.home, name="home"),
    path("t/<slug:tenant_slug>/connect/", views_connect.connect_start, name="connect_start"),
    path("t/<slug:tenant_slug>/members/", views.members, name="members"),
    path("t/<slug:tenant_slug>/protection/", protection.protection, name="protection"),
    path("connect/callback/", views_connect.connect_callback, name="connect_callback"),
    path("connect/choose/<uuid:pending_id>/", views_connect.connect_choose, name="connect_choose"),
    path("invitations/<str:token>/", views.invitation_accept_view, name="invitation_accept"),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # allauth's two-factor set-up, going on to where the user was going (portal/mfa.py).
    path("accounts/2fa/totp/activate/", mfa.activate_totp, name="mfa_activate_totp"),
    path("accounts/2fa/recovery-codes/", mfa.view_recovery_codes, name="mfa_view_recovery_codes"),
    path("accounts/", include("allauth.urls")),
    path("", include((portal_patterns, "portal"))),
    path("", include("portal.wizard.urls")),
]

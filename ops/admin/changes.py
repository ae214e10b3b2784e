"""The change view of a site in the admin: what changed between two of its snapshots, or
between a snapshot and the site now (``backups.changes.report.site_changes``). Linked from the
site's page and from each snapshot's page; staff who may view snapshots may read it."""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from backups.changes.report import ChangesRefused, SnapshotUnreadable, site_changes
from backups.models import Snapshot
from ops.display import host
from tenants.models import JiraSite

NOW = "now"


def _label(snapshot: Snapshot) -> str:
    when = snapshot.completed_at.strftime("%Y-%m-%d %H:%M") if snapshot.completed_at else "?"
    return f"{when} UTC — {snapshot.get_kind_display()} {str(snapshot.pk)[:8]}"


class ChangesForm(forms.Form):
    before = forms.ChoiceField(label="From snapshot")
    after = forms.ChoiceField(
        label="To",
        help_text="Another snapshot (read from storage), or the site now (read live from Jira: "
        "its configuration and the issues updated since; this spends points).",
    )

    def __init__(self, *args, snapshots: list[Snapshot], **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(str(s.pk), _label(s)) for s in snapshots]
        self.fields["before"].choices = choices
        self.fields["after"].choices = [(NOW, "the site now"), *choices]
        self.by_id = {str(s.pk): s for s in snapshots}

    def clean(self):
        data = super().clean()
        before, after = data.get("before"), data.get("after")
        if before and before == after:
            raise forms.ValidationError("Choose two different snapshots, or the site now.")
        return data


def changes_view(model_admin, request: HttpRequest) -> HttpResponse:
    """``?site=<id>[&before=<snapshot>][&after=<snapshot>|now]``: the form, and the changes
    once both sides are chosen (from a snapshot's page the next snapshot is preselected)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    site = get_object_or_404(JiraSite, pk=request.GET.get("site") or 0)
    snapshots = list(
        Snapshot.objects.filter(site=site, status=Snapshot.Status.COMPLETE).order_by(
            "-completed_at"
        )[:100]
    )
    data = request.GET.copy()
    if data.get("before") and not data.get("after"):
        newer = [s for s in snapshots if str(s.pk) != data["before"]]
        chosen = next((s for s in snapshots if str(s.pk) == data["before"]), None)
        following = [s for s in newer if chosen and s.completed_at > chosen.completed_at]
        data["after"] = str(following[-1].pk) if following else ""
    form = ChangesForm(data if data.get("after") else None, snapshots=snapshots)
    report, refused = None, ""
    if form.is_bound and form.is_valid():
        after = form.cleaned_data["after"]
        try:
            report = site_changes(
                before=form.by_id[form.cleaned_data["before"]],
                after=None if after == NOW else form.by_id[after],
            )
        except (ChangesRefused, SnapshotUnreadable) as exc:
            refused = str(exc)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"What changed on {host(site.url)}",
        "site": site,
        "form": form,
        "report": report,
        "refused": refused,
        "opts": Snapshot._meta,
    }
    return TemplateResponse(request, "admin/backups/snapshot_changes.html", context)

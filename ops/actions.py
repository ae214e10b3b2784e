"""The confirmation page every staff admin action goes through.

An action calls ``confirm_then_run``: the first POST (from the changelist) renders a page that
lists what will be affected, with an optional form (e.g. a required reason); the second POST
(``confirm=yes``) validates the form, runs ``perform`` and reports its ``BulkOutcome`` in one
message. The second POST goes through the admin's normal action dispatch again, so the action's
permission is checked on both requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from kit.outcomes import BulkOutcome

# The confirmation page names at most this many objects (the count is always exact).
SHOWN_ON_CONFIRMATION = 50
# Failed items listed one by one under the summary.
FAILURES_LISTED = 20


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=500,
        help_text="Recorded in the audit log and shown to support staff.",
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason


def confirm_then_run(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    title: str,
    explanation: str,
    perform: Callable[[QuerySet, dict[str, Any]], BulkOutcome],
    form_class: type[forms.Form] | None = None,
    danger: bool = False,
):
    """Render the confirmation page, or (on ``confirm=yes``) run the action and report."""
    confirmed = request.POST.get("confirm") == "yes"
    form = None
    if form_class is not None:
        form = form_class(request.POST if confirmed else None)
    if confirmed and (form is None or form.is_valid()):
        outcome = perform(queryset, form.cleaned_data if form is not None else {})
        report(modeladmin, request, outcome)
        return None
    opts = modeladmin.model._meta
    total = queryset.count()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "explanation": explanation,
        "opts": opts,
        "app_label": opts.app_label,
        "objects": list(queryset[:SHOWN_ON_CONFIRMATION]),
        "total": total,
        "more": max(0, total - SHOWN_ON_CONFIRMATION),
        "form": form,
        "danger": danger,
        "action": request.POST.get("action", ""),
        "select_across": request.POST.get("select_across", "0"),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "admin/ops/confirm_action.html", context)


def report(modeladmin: admin.ModelAdmin, request: HttpRequest, outcome: BulkOutcome) -> None:
    """One summary message, then the failures (the first ``FAILURES_LISTED``)."""
    if outcome.failed:
        level = messages.WARNING if outcome.done else messages.ERROR
    elif not outcome.done and outcome.skipped:
        level = messages.WARNING
    else:
        level = messages.SUCCESS
    modeladmin.message_user(request, outcome.summary(), level)
    for item, reason in list(outcome.failed.items())[:FAILURES_LISTED]:
        modeladmin.message_user(request, f"{item}: {reason}", messages.ERROR)

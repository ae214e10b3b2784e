from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal import health


@require_GET
@never_cache
def healthz(request):
    results = health.run_checks()
    failing = sorted(name for name, status in results.items() if status != "ok")
    body = {"status": "ok" if not failing else "unavailable", "checks": results}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)


@login_required
def home(request):
    return render(request, "portal/home.html")

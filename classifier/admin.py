"""Admin for model versions: their scores, the activation log, and activate / roll back through the
same gated services as `manage.py model_version` (the admin never loads a model: it uses the
scores stored by train_classifier or the command)."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from classifier.models import ModelActivation, ModelEvaluation, ModelVersion
from classifier.services import model_version_activate, model_version_rollback
from core.errors import ServiceError


class ActivationForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), help_text="kept in the activation log"
    )
    force = forms.BooleanField(
        required=False, help_text="activate even when it scores below the active model, or cannot be compared"
    )


def _who(request) -> str:
    return f"{request.user.get_username()} (admin)"


def _switch_page(modeladmin, request, queryset, *, title: str, run):
    """An intermediate page asking why; on submit, runs the service and reports its answer."""
    form = ActivationForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        try:
            done = run(reason=form.cleaned_data["reason"], force=form.cleaned_data["force"])
        except ServiceError as exc:
            modeladmin.message_user(request, exc.detail, messages.ERROR)
        else:
            modeladmin.message_user(
                request,
                f"{done.version.name} is active{' (forced)' if done.forced else ''}; "
                f"{done.comparison or 'no comparison'}",
            )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "queryset": queryset,
        "action": request.POST.get("action"),
        "opts": modeladmin.model._meta,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/classifier/modelversion/switch.html", context)


@admin.action(description="Activate the selected version (compared with the active one)", permissions=["change"])
def activate(modeladmin, request, queryset):
    if queryset.count() != 1:
        modeladmin.message_user(request, "select exactly one model version to activate", messages.WARNING)
        return None
    version = queryset.get()
    return _switch_page(
        modeladmin,
        request,
        queryset,
        title=f"Activate {version.name}",
        run=lambda reason, force: model_version_activate(
            model_version=version, by=_who(request), reason=reason, force=force, compute=False
        ),
    )


@admin.action(description="Roll back to the version active before the last activation", permissions=["change"])
def rollback(modeladmin, request, queryset):
    return _switch_page(
        modeladmin,
        request,
        queryset,
        title="Roll back the last activation",
        run=lambda reason, force: model_version_rollback(by=_who(request), reason=reason),
    )


class ModelEvaluationInline(admin.TabularInline):
    model = ModelEvaluation
    fields = readonly_fields = ["split_sha256", "images", "macro_f1", "accuracy", "created"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "arch", "is_active", "macro_f1", "created", "activated"]
    readonly_fields = ["name", "arch", "path", "sha256", "num_labels", "metrics", "is_active", "created", "activated"]
    inlines = [ModelEvaluationInline]
    actions = [activate, rollback]

    @admin.display(description="macro-F1 (own validation)")
    def macro_f1(self, obj):
        f1 = obj.metrics.get("macro_f1")
        return "-" if f1 is None else f"{f1:.3f}"

    def has_add_permission(self, request):
        return False  # versions come from train_classifier or bootstrap


@admin.register(ModelActivation)
class ModelActivationAdmin(admin.ModelAdmin):
    """The log is evidence: nobody edits or deletes it."""

    list_display = ["at", "version", "previous", "by", "forced", "reason", "comparison"]
    list_filter = ["forced"]
    fields = readonly_fields = ["at", "version", "previous", "by", "reason", "comparison", "forced"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from services import auth_service

from .login_throttle import ThrottledAdminAuthenticationForm
from .models import ApiKey, ApiKeyQuerySet

# Failed logins are counted per IP and per username; past the limit no password is hashed.
admin.site.login_form = ThrottledAdminAuthenticationForm


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "active", "created_at", "last_used_at")
    list_filter = ("revoked",)
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    actions = ["revoke"]

    @admin.display(description="Active", boolean=True, ordering="revoked")
    def active(self, obj: ApiKey) -> bool:
        # A "revoked" column with boolean icons showed a green tick for revoked keys.
        return not obj.revoked

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool) -> None:
        if not change:
            # Only the hash is stored; the raw key is kept on the object for response_add.
            obj._raw_key = obj.assign_new_secret()  # type: ignore[attr-defined]  # kept on this instance for response_add only
        super().save_model(request, obj, form, change)
        auth_service.get_instance().invalidate()

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None) -> HttpResponse:
        raw = getattr(obj, "_raw_key", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        # Shown once, in this response: a message would carry it in the signed but readable
        # `messages` cookie (and on to the next page).
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "API key created",
            "key": obj,
            "raw_key": raw,
        }
        response = TemplateResponse(request, "admin/apikeys/apikey/key_created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: ApiKeyQuerySet) -> None:
        count = queryset.revoke()
        auth_service.get_instance().invalidate()
        self.message_user(request, f"Revoked {count} key(s).")

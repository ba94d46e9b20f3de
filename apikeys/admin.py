from django.contrib import admin, messages
from django.http import HttpRequest

from services import auth_service

from .models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "created_at", "last_used_at", "revoked")
    list_filter = ("revoked",)
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:  # type: ignore[no-untyped-def]
        if not change:
            # The raw key is shown once, here; only its hash is stored.
            raw = obj.assign_new_secret()
            messages.warning(request, f"New API key for {obj.name}: {raw} (copy it now; it is not shown again)")
        super().save_model(request, obj, form, change)
        auth_service.get_instance().invalidate()

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset) -> None:  # type: ignore[no-untyped-def]
        count = queryset.update(revoked=True)
        auth_service.get_instance().invalidate()
        self.message_user(request, f"Revoked {count} key(s).")

from django.apps import AppConfig


class RagConfig(AppConfig):
    name = "rag"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from services import health_service
        from services.vectorstores import configured_backend

        health = health_service.get_instance()
        # Retrieval needs only the local embedding model and a store, both always configured.
        health.register_capability("rag", lambda: True)
        health.register_check("vector_store", _check_vector_store)
        health.register_info("vectorStore", configured_backend)


def _check_vector_store() -> bool:
    from services import rag_service

    rag_service.get_instance().store.ping()
    return True

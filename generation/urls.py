from django.urls import path

from . import openai_compat, openai_models, views

urlpatterns = [
    path("generation/text", views.TextGenerationView.as_view(), name="generation-text"),
    path("generation/image", views.ImageGenerationView.as_view(), name="generation-image"),
    path("generation/models", views.ModelsView.as_view(), name="generation-models"),
    path("chat/completions", views.ChatCompletionsView.as_view(), name="chat-completions"),
    # OpenAI wire format for OpenAI SDKs: base_url = http://<host>/v1
    path("v1/chat/completions", openai_compat.OpenAIChatCompletionsView.as_view(), name="openai-chat-completions"),
    path("v1/models", openai_models.OpenAIModelsView.as_view(), name="openai-models"),
    # Model ids may hold slashes (an OpenAI-compatible server's "org/model").
    path("v1/models/<path:model_id>", openai_models.OpenAIModelView.as_view(), name="openai-model"),
]

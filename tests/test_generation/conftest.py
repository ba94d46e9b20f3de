from .provider_fixtures import anthropic_fake, no_llm, openai_fake  # noqa: F401

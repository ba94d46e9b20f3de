"""LLM providers behind one small interface (``base.ChatProvider``): OpenAI and OpenAI-compatible
servers, Anthropic, and the packaged local GGUF models served in-process by xllamacpp
(``local_models`` joins and checks their files). ``services.llm_service`` chooses among them.
"""

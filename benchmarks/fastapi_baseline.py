"""The baseline for benchmarks/http_overhead.py: a minimal FastAPI app with the same two endpoints.

It uses our own complexity logic so that both servers do the same work; only the framework and
server differ.
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from mlservice.core.formatting import iso_now
from services.complexity_service import ComplexityService

app = FastAPI()
_service = ComplexityService()


class EstimateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    description: str | None = None
    issueType: str | None = "task"
    labels: list[str] = []
    relatedFiles: list[str] = []


@app.get("/health")
def health() -> dict:
    return {
        "status": "ok",
        "timestamp": iso_now(),
        "version": "0.1.0",
        "services": {"embeddings": True, "rag": True, "transcription": True, "analysis": True, "complexity": True},
        "config": {"hasOpenAiKey": False, "hasQdrantUrl": False, "embeddingModel": "", "defaultLlmModel": ""},
    }


@app.post("/complexity/estimate", status_code=201)
def estimate(body: EstimateRequest) -> dict:
    return _service.estimate(body.title, body.description, body.issueType, body.relatedFiles)

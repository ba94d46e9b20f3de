"""python manage.py rag_search "query" --collection NAME [--limit 5] [--mode hybrid] [--min-score 0]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from services import rag_service
from services.rag_service import MODES, SearchRequest


class Command(BaseCommand):
    help = "Search a RAG collection and print the best chunks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("query")
        parser.add_argument("--collection", default="default")
        parser.add_argument("--limit", type=int, default=5)
        parser.add_argument("--mode", choices=MODES, default="hybrid")
        parser.add_argument("--min-score", type=float, default=0.0)

    def handle(self, *args: Any, **options: Any) -> None:
        hits = rag_service.get_instance().search(
            SearchRequest(
                query=options["query"],
                collection=options["collection"],
                limit=options["limit"],
                min_score=options["min_score"],
                mode=options["mode"],
            )
        )
        if not hits:
            self.stdout.write("no results")
        for rank, hit in enumerate(hits, 1):
            snippet = " ".join(hit.content.split())[:200]
            self.stdout.write(f"{rank}. [{hit.cosine:.3f}] {hit.source} ({hit.source_type})\n   {snippet}")

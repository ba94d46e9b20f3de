from services.rag_service import reciprocal_rank_fusion, zscore_fusion
from services.vectorstores.base import Hit


def hit(key: str, cosine: float, lexical: float | None = None) -> Hit:
    return Hit(id=key, content=key, source=key, source_type="t", metadata={}, cosine=cosine, lexical=lexical)


def test_zscore_fusion_lets_a_strong_lexical_match_overtake() -> None:
    dense = [hit("a", 0.80), hit("b", 0.70), hit("c", 0.69), hit("d", 0.68)]
    lexical = [hit("c", 0.69, 30.0), hit("e", 0.50, 12.0), hit("a", 0.80, 2.0)]
    fused = zscore_fusion(dense, lexical, [1.0, 1.0])
    assert [h.id for h in fused][:2] == ["c", "a"]
    assert {h.id for h in fused} == {"a", "b", "c", "d", "e"}
    assert fused[0].cosine == 0.69  # scores shown to clients stay cosines
    # Weighting only the dense side gives back the cosine order.
    assert [h.id for h in zscore_fusion(dense, lexical, [1.0, 0.0])] == ["a", "b", "c", "d", "e"]


def test_zscore_fusion_with_an_empty_lexical_list_is_dense_order() -> None:
    dense = [hit("a", 0.9), hit("b", 0.5)]
    assert [h.id for h in zscore_fusion(dense, [], [1.0, 1.0])] == ["a", "b"]
    assert zscore_fusion([], [], [1.0, 1.0]) == []


def test_reciprocal_rank_fusion_weights() -> None:
    dense = [hit("a", 0.9), hit("b", 0.8)]
    lexical = [hit("b", 0.8, 5.0), hit("c", 0.1, 4.0)]
    assert [h.id for h in reciprocal_rank_fusion([dense, lexical], [1.0, 1.0], 60)] == ["b", "a", "c"]
    assert [h.id for h in reciprocal_rank_fusion([dense, lexical], [1.0, 0.0], 60)][:2] == ["a", "b"]

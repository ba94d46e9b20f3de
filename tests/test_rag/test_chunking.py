import pytest

from services.chunking import chunk_text


@pytest.mark.parametrize(
    ("text", "size", "overlap", "lengths"),
    [
        ("Word. " * 100, 100, 20, [101, 98, 97, 97, 97, 97, 97, 49]),
        ("a" * 2500, 1000, 200, [1000, 1000, 900]),
        ("Hello world. " * 200, 1000, 200, [1000, 998, 999]),
        ("x" * 1000, 1000, 200, [1000]),
        ("   ", 100, 0, []),
        ("", 100, 0, []),
    ],
)
def test_contract_examples(text: str, size: int, overlap: int, lengths: list[int]) -> None:
    assert [len(chunk) for chunk in chunk_text(text, size, overlap)] == lengths


def test_cuts_at_the_latest_break_of_any_kind_and_overlaps() -> None:
    # TS takes the *latest* break among all separators, so a space after ". " wins.
    text = "First sentence here. Second sentence is here. Third one closes it."
    chunks = chunk_text(text, 30, 10)
    assert chunks == ["First sentence here. Second", "e. Second sentence is here.", "is here. Third one closes it."]


def test_always_advances_when_a_break_sits_right_after_start() -> None:
    # A lone break point just after start: TS would step backwards forever; we must finish.
    text = "a " + "b" * 500
    chunks = chunk_text(text, 100, 99)
    assert chunks[0] == "a"
    assert "".join(chunks).count("a") >= 1
    assert len(chunks) < len(text)


@pytest.mark.parametrize(("size", "overlap"), [(100, 100), (100, 200), (100, -1), (0, 0)])
def test_rejects_overlap_not_smaller_than_size(size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_text("some text", size, overlap)

from smallcoder_lsp.completion.suggestions import Suggestion, SuggestionCache
from smallcoder_lsp.context.documents import Document

URI = "file:///t.py"


def doc_with(text: str) -> Document:
    return Document(URI, "python", 1, text.encode())


def test_typing_into_a_suggestion_answers_with_its_rest():
    doc = doc_with("def f(n):\n    return ")
    cache = SuggestionCache()
    cache.remember(URI, Suggestion.at(doc.text, len(doc.text), text="fib(n - 1) + fib(n - 2)"))
    doc.apply_edit(len(doc.text), len(doc.text), b"fib(")
    found = cache.lookup(URI, doc.text, len(doc.text))
    assert found is not None and found[1] == "n - 1) + fib(n - 2)"


def test_typing_something_else_or_editing_above_invalidates_it():
    doc = doc_with("def f(n):\n    return ")
    cache = SuggestionCache()
    end = len(doc.text)
    cache.remember(URI, Suggestion.at(doc.text, end, text="n + 1"))
    doc.apply_edit(end, end, b"m")
    assert cache.lookup(URI, doc.text, end + 1) is None
    doc.apply_edit(end, end + 1, b"")
    doc.apply_edit(0, 3, b"async def")  # the text before the anchor changed
    assert cache.lookup(URI, doc.text, len(doc.text)) is None


def test_a_fully_typed_suggestion_is_used_up():
    doc = doc_with("x = ")
    cache = SuggestionCache()
    cache.remember(URI, Suggestion.at(doc.text, 4, text="1"))
    doc.apply_edit(4, 4, b"1")
    assert cache.lookup(URI, doc.text, 5) is None


def test_several_candidates_the_one_that_matches_wins():
    doc = doc_with("items = ")
    cache = SuggestionCache()
    cache.remember(URI, Suggestion.at(doc.text, 8, text="[1, 2, 3]"))
    cache.remember(URI, Suggestion.at(doc.text, 8, text="list(range(10))"))
    doc.apply_edit(8, 8, b"[")
    found = cache.lookup(URI, doc.text, 9)
    assert found is not None and found[1] == "1, 2, 3]"


def test_a_suggestion_still_generating_is_not_served_from_the_cache():
    doc = doc_with("x = ")
    live = Suggestion.at(doc.text, 4, text="compute(", done=False)
    cache = SuggestionCache()
    cache.remember(URI, live)
    assert cache.lookup(URI, doc.text, 4) is None
    assert live.rest_after(doc.text, 4) == "compute("
    live.grow("compute(1)", done=True)
    assert cache.lookup(URI, doc.text, 4)[1] == "compute(1)"

from smallcoder_lsp.completion.postprocess import cut_loop, postprocess, trim_to_block
from smallcoder_lsp.context.documents import Document
from smallcoder_lsp.context.extract import extract_context


def ctx_at(text: str, marker: str = "<|>"):
    offset = text.index(marker)
    doc = Document("file:///t.py", "python", 1, text.replace(marker, "").encode())
    return extract_context(doc, len(text[:offset].encode()), 4000, 2000)


def test_single_line_is_cut_at_line_end():
    ctx = ctx_at("def f(n):\n    return n +<|>\n")
    assert postprocess(" 1\n    print(n)", ctx) == " 1"


def test_completion_that_only_repeats_the_rest_of_the_line_is_dropped():
    ctx = ctx_at("x = foo(<|>)\n")
    assert postprocess(")", ctx) == ""
    assert postprocess("a, b)", ctx) == "a, b"


def test_multiline_is_cut_at_the_block_end_and_at_the_next_lines():
    ctx = ctx_at("def f(n):\n    <|>\n\ndef g():\n    pass\n")
    out = postprocess("if n < 2:\n        return n\n    return f(n - 1)\n\ndef g():\n    pass", ctx)
    assert out == "if n < 2:\n        return n\n    return f(n - 1)"


def test_repetition_loop_is_cut():
    ctx = ctx_at("def f(n):\n    <|>\n")
    assert postprocess("x = n + 1\n    x = n + 1\n    x = n + 1", ctx) == "x = n + 1"


def test_unparseable_tail_is_dropped_and_nothing_survives_when_nothing_parses():
    ctx = ctx_at("def f(n):\n    <|>\n")
    assert postprocess("return n\n    )))", ctx) == "return n"
    assert postprocess(")))", ctx) == ""


def test_block_opener_at_the_end_of_a_single_line_is_allowed():
    ctx = ctx_at("def f(items):\n    for it<|>\n")
    assert postprocess("em in items:", ctx) == "em in items:"


def test_partial_last_line_is_dropped_when_generation_was_cut():
    ctx = ctx_at("def f(n):\n    <|>\n")
    out = postprocess("a = 1\n    b = a +", ctx, last_line_complete=False)
    assert out == "a = 1"


def test_language_without_grammar_is_passed_through_trimmed():
    offset = len("hello ")
    doc = Document("file:///t.txt", "plaintext", 1, b"hello \n")
    ctx = extract_context(doc, offset, 100, 100)
    assert postprocess("world  \nmore", ctx) == "world"


def test_near_duplicate_of_the_line_above_is_cut():
    ctx = ctx_at("def f(rows):\n    total = sum(row.price for row in rows)\n    <|>\n")
    assert postprocess("total = sum(row.price for row in rows)", ctx) == ""
    ctx = ctx_at("def f(rows):\n    <|>\n")
    out = postprocess("total = compute_total(rows, 1)\n    total = compute_total(rows, 2)", ctx)
    assert out == "total = compute_total(rows, 1)"


def test_brackets_left_open_at_the_line_end_are_closed():
    ctx = ctx_at("def f(n):\n    return max(n, abs(<|>\n")
    assert postprocess("n - 1", ctx) == "n - 1))"  # closes what the line opened
    ctx = ctx_at("def f(n):\n    return <|>\n")
    assert postprocess("max(n, abs(n - 1", ctx) == "max(n, abs(n - 1))"
    assert postprocess("f(x, ", ctx) == ""  # unfinished argument list: nothing parses


def test_brackets_inside_strings_do_not_count():
    ctx = ctx_at("def f(n):\n    return <|>\n")
    assert postprocess('g(")(", n', ctx) == 'g(")(", n)'


def test_a_loop_inside_a_line_is_cut_where_it_starts():
    assert cut_loop("x = foo" + "(a)" * 12) == "x = foo"
    ctx = ctx_at("def f(stuff):\n    if stuff[0] in (<|>\n")
    assert "']', ']', ']'" not in postprocess("'^', " + "']', " * 20, ctx)
    ctx = ctx_at("ZEROS = <|>\n")
    assert postprocess("[0, 0, 0, 0, 0]", ctx) == "[0, 0, 0, 0, 0]"  # a short legitimate repeat stays


def test_a_block_cut_short_does_not_end_with_an_empty_opener():
    ctx = ctx_at("def f(n):\n    <|>")
    text = "if n:\n        return 1\n    else:\n        return"
    assert trim_to_block(text, ctx, last_line_complete=False) == "if n:\n        return 1"


def test_a_block_opener_whose_body_is_below_is_checked_against_that_body():
    ctx = ctx_at("def f(items):\n    with open(p) as <|>\n        data = fh.read()\n    return data\n")
    assert postprocess("fh:", ctx) == "fh:"


def test_indentation_the_editor_already_wrote_is_not_written_again():
    ctx = ctx_at("def f(items):\n    result = sorted(items)\n    <|>\n")
    assert postprocess("    return result", ctx) == "return result"
    assert postprocess("\treturn result", ctx) == "return result"


def test_indentation_is_kept_where_the_cursor_is_at_the_line_start_or_after_code():
    assert postprocess("    return 1", ctx_at("def f():\n<|>\n")) == "    return 1"
    assert postprocess("  1", ctx_at("x =<|>\n")) == "  1"

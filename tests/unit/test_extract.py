from smallcoder_lsp.context.documents import Document
from smallcoder_lsp.context.extract import extract_context
from smallcoder_lsp.context.window import WINDOW_STEP_LINES


def make(text: str) -> Document:
    return Document("file:///t.py", "python", 1, text.encode())


def test_windows_and_line_parts():
    text = "import os\n\ndef f(x):\n    return os.pa\n"
    doc = make(text)
    offset = text.index("os.pa") + 5
    ctx = extract_context(doc, offset, 1000, 1000)
    assert ctx.prefix == text[:offset]
    assert ctx.suffix == "\n"
    assert ctx.line_prefix == "    return os.pa"
    assert ctx.line_suffix == ""
    assert not ctx.multiline


def test_empty_indented_line_is_multiline():
    text = "def fibonacci(n):\n    \n"
    ctx = extract_context(make(text), len("def fibonacci(n):\n    "), 1000, 1000)
    assert ctx.multiline and ctx.indent == "    "


def test_prefix_window_start_moves_in_steps_while_typing():
    lines = [f"x{i} = {i}" for i in range(300)]
    text = "\n".join(lines) + "\n"
    doc = make(text)
    starts = set()
    offset = len(text)
    for ch in "value = compute(":
        doc.apply_edit(offset, offset, ch.encode())
        offset += 1
        ctx = extract_context(doc, offset, 600, 100)
        starts.add(ctx.window_start_line)
    assert len(starts) == 1
    (start,) = starts
    assert start % WINDOW_STEP_LINES == 0
    assert len(ctx.prefix.encode()) <= 600


def test_huge_single_line_keeps_its_tail():
    text = "x = [" + "1, " * 10_000
    ctx = extract_context(make(text), len(text), 500, 100)
    assert len(ctx.prefix) <= 500 and text.endswith(ctx.prefix)


def test_crlf_cursor_never_lands_between_cr_and_lf():
    text = "a = 1\r\nb = 2\r\n"
    doc = make(text)
    ctx = extract_context(doc, doc.line_end(0) + 1, 100, 100)
    assert ctx.line_prefix == "a = 1" and ctx.line_suffix == ""


def test_the_window_never_opens_inside_a_docstring():
    code = "".join(f"x{i} = {i}\n" for i in range(40))
    doc_lines = "".join(f"    line {i} of the docstring\n" for i in range(30))
    text = f'{code}def f():\n    """Start.\n{doc_lines}    """\n    return 1\n'
    doc = Document("file:///t.py", "python", 1, text.encode())
    offset = text.index("line 27 of")
    ctx = extract_context(doc, offset, 800, 400)
    assert ctx.prefix.startswith('    """Start.'), ctx.prefix[:40]


def test_a_window_inside_a_method_gets_a_frame_that_reopens_its_blocks():
    from smallcoder_lsp.context.syntax import error_count

    filler = "".join(f"x{i} = {i}\n" for i in range(WINDOW_STEP_LINES - 2))
    body = "".join(f"        y{i} = {i}\n" for i in range(10))
    method_g = "\n    def g(self):\n        pass\n"
    text = f"{filler}class A:\n    def f(self):\n{body}        return y1\n{method_g}"
    doc = Document("file:///t.py", "python", 1, text.encode())
    ctx = extract_context(doc, text.index("return y1"), 400, 400)
    assert ctx.prefix.startswith("        y")  # the window starts inside the method
    assert ctx.frame == "if 1:\n    if 1:\n"
    assert error_count("python", ctx.window) == 0


def test_the_window_never_starts_inside_a_statement():
    filler = "".join(f"x{i} = {i}\n" for i in range(WINDOW_STEP_LINES - 3))
    call = "result = compute(\n" + "".join(f"    arg{i},\n" for i in range(6)) + ")\n"
    text = f"{filler}{call}total = result + 1\n"
    doc = Document("file:///t.py", "python", 1, text.encode())
    ctx = extract_context(doc, len(text) - 1, 150, 100)
    assert ctx.prefix.startswith("result = compute("), ctx.prefix[:30]


def test_the_suffix_window_does_not_stop_inside_a_docstring():
    text = 'def f():\n    return 1\n\n\ndef g():\n    """' + "word " * 200 + '"""\n'
    doc = Document("file:///t.py", "python", 1, text.encode())
    ctx = extract_context(doc, text.index("1\n"), 300, 200)
    assert '"""' not in ctx.suffix and ctx.suffix.rstrip().endswith("def g():")


def test_shorter_windows_start_at_the_first_line_of_each_grid_step_outside_statements_and_blank_lines():
    from smallcoder_lsp.context.window import CUT_STEP_LINES

    lines = [f"x{i} = {i}" for i in range(40)]
    lines[CUT_STEP_LINES] = ""  # a blank line on the grid is no place to start: the next line is
    lines[2 * CUT_STEP_LINES - 1] = "y = ("  # a statement across a grid line neither
    lines[2 * CUT_STEP_LINES] = "    1)"
    lines[3 * CUT_STEP_LINES : 4 * CUT_STEP_LINES] = [""] * CUT_STEP_LINES  # a step with nowhere to start
    text = "\n".join(lines) + "\n"
    doc = make(text)
    offset = text.index("x37")
    ctx = extract_context(doc, offset, 10_000, 100)
    starts = [ctx.prefix[cut:].split("\n", 1)[0] for cut in ctx.cuts]
    assert starts == [f"x{n} = {n}" for n in (CUT_STEP_LINES + 1, 2 * CUT_STEP_LINES + 1, 4 * CUT_STEP_LINES)]
    assert all(ctx.prefix[cut - 1] == "\n" for cut in ctx.cuts)

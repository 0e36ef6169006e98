"""The coding corpus: tasks to complete in one request, read from ``corpus/tasks/*.task`` (shipped in the wheel).

A task file has ``key: value`` headers (category, level, keywords separated by ``;``) and then sections opened
by ``--- name`` lines: ``prompt`` (the code before the cursor; its last character, ``|``, marks the cursor),
optional ``suffix`` (the code after the cursor), ``tests`` (asserts run after the completed code) and
``solution`` (a reference completion, which makes the tests pass; the test suite checks that).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
TASKS_DIR = CORPUS_DIR / "tasks"
CURSOR = "|"
SECTIONS = ("prompt", "suffix", "tests", "solution")

CATEGORIES = (
    "function_generation",
    "code_completion",
    "docstring_generation",
    "simple_refactoring",
    "bug_detection",
    "algorithm_implementation",
    "data_structure_implementation",
    "string_processing",
    "file_operations",
    "async_programming",
    "smallcoder",
)
LEVELS = ("basic", "intermediate", "advanced")

# A spread of categories that finishes in seconds, for --quick.
QUICK_TASKS = ("fibonacci", "cc_mean", "rf_squares", "str_reverse_words")


class CorpusError(ValueError):
    """A task file that cannot be read or is malformed."""


@dataclass(frozen=True)
class Task:
    name: str
    category: str
    level: str
    keywords: tuple[str, ...]
    prompt: str
    """Text before the cursor."""
    suffix: str = ""
    """Text after the cursor."""
    tests: str = ""
    solution: str = ""

    def program(self, completion: str) -> str:
        """The whole module with ``completion`` at the cursor, followed by the tests."""
        return f"{self.prompt}{completion}{self.suffix}\n\n{self.tests}\n"

    def document(self) -> str:
        return self.prompt + self.suffix


def parse_task(name: str, text: str) -> Task:
    headers: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.split("\n"):
        if line.startswith("--- "):
            section = line[4:].strip()
            if section not in SECTIONS:
                raise CorpusError(f"{name}: unknown section '{section}'")
            current = sections.setdefault(section, [])
        elif current is not None:
            current.append(line)
        elif line.strip():
            key, sep, value = line.partition(":")
            if not sep:
                raise CorpusError(f"{name}: header line without ':': {line!r}")
            headers[key.strip()] = value.strip()
    body = {k: "\n".join(v).rstrip("\n") for k, v in sections.items()}
    prompt = body.get("prompt", "")
    if not prompt.endswith(CURSOR):
        raise CorpusError(f"{name}: the prompt must end with the cursor mark '{CURSOR}'")
    category, level = headers.get("category", ""), headers.get("level", "")
    if category not in CATEGORIES or level not in LEVELS:
        raise CorpusError(f"{name}: bad category/level {category!r}/{level!r}")
    keywords = tuple(k.strip() for k in headers.get("keywords", "").split(";") if k.strip())
    suffix = body.get("suffix", "")
    return Task(
        name=name,
        category=category,
        level=level,
        keywords=keywords,
        prompt=prompt[: -len(CURSOR)],
        suffix=suffix + "\n" if suffix else "",
        tests=body.get("tests", ""),
        solution=body.get("solution", ""),
    )


def load_task(path: Path) -> Task:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read {path}: {exc}") from exc
    return parse_task(path.stem, text)


def task_paths(names: tuple[str, ...] | None = None, tasks_dir: Path = TASKS_DIR) -> list[Path]:
    """All task files, or the named ones (missing ones included, so that loading them reports the error)."""
    if names is None:
        return sorted(tasks_dir.glob("*.task"))
    return [tasks_dir / f"{name}.task" for name in names]


def keyword_score(task: Task, completion: str) -> float:
    """The fraction of the task's expected keywords that the completion contains."""
    if not task.keywords:
        return 1.0
    return sum(1 for k in task.keywords if k in completion) / len(task.keywords)

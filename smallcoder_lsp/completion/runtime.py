"""The loaded model as the engine's worker uses it.

A local backend gets a decode session (KV prefix reuse) with per-document KV states; a remote server is a text
generator. Either way: the prompt under the token budget, a generation under the line's rules, trimmed and
checked; for a prefix-only prompt, more candidates when the first is in doubt, scored by what follows the cursor.
Everything here runs on the engine's single model worker.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

from smallcoder_lsp.backends.base import Backend, Generator
from smallcoder_lsp.completion.budget import COLD_WINDOW_S, Fit, PromptChoice, Throughput, fit_prompt
from smallcoder_lsp.completion.candidates import choose
from smallcoder_lsp.completion.postprocess import trim
from smallcoder_lsp.completion.prompt import FimTemplate, build_prompt, detect_fim_template
from smallcoder_lsp.config import Config
from smallcoder_lsp.context.extract import CompletionContext
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.healing import Healed, heal, splits_indentation
from smallcoder_lsp.decode.sampling import Sampler
from smallcoder_lsp.decode.session import Session
from smallcoder_lsp.decode.states import INVOKED, SHORT, WINDOW, DocumentStates
from smallcoder_lsp.decode.stopping import StopRules
from smallcoder_lsp.decode.stream import Generation
from smallcoder_lsp.decode.textstream import complete_text

log = logging.getLogger(__name__)

TRUNCATED = {"max_tokens": "maxTokens", "deadline": "timeoutMs", "context": "contextLength"}
"""Stop reasons that leave the last line unfinished, and the setting that set the limit."""


@dataclass(frozen=True)
class Outcome:
    text: str
    """The shown text: trimmed and checked."""
    generation: Generation
    reason: str = ""
    """Why ``text`` is empty, for the user (empty when it is not)."""


def stop_rules(ctx: CompletionContext, config: Config, end_ids: frozenset[int] = frozenset()) -> StopRules:
    cfg = config.completion
    return StopRules(
        multiline=ctx.multiline,
        indent=ctx.indent,
        max_tokens=cfg.multiline_max_tokens if ctx.multiline else cfg.max_tokens,
        max_lines=cfg.max_lines,
        max_seconds=cfg.timeout_ms / 1000 if cfg.timeout_ms > 0 else None,
        end_ids=end_ids,
    )


def finish(generation: Generation, ctx: CompletionContext) -> str:
    """The shown text of a finished generation."""
    return explain(generation, ctx).text


def explain(generation: Generation, ctx: CompletionContext) -> Outcome:
    """The shown text of a finished generation, and why it is empty when it is."""
    stop = generation.stats.stop_reason
    text, rule = trim(generation.text, ctx, last_line_complete=stop not in TRUNCATED)
    if text:
        return Outcome(text, generation)
    limit = f"a limit was reached ({TRUNCATED[stop]})" if stop in TRUNCATED else ""
    if not generation.text.strip():
        if limit:
            return Outcome("", generation, f"{limit} before the model wrote anything")
        at_once = "a line break" if stop == "line_end" else "the end of its text"
        return Outcome("", generation, f"the model proposed nothing (it wrote {at_once} first)")
    trimmed = f"what it proposed was trimmed away: {rule}"
    return Outcome("", generation, f"{limit}, and {trimmed}" if limit else trimmed[0].upper() + trimmed[1:])


def without_line_end(on_text: Callable[[str], None]) -> Callable[[str], None]:
    """``on_text`` told only the first line's text, never its end."""
    return lambda text: on_text(text.split("\n", 1)[0])


def fit_to_context(tokens: list[int], limit: int, keep_first: bool) -> list[int]:
    """Keep the tail of a prompt that is longer than ``limit`` (and its BOS token)."""
    if len(tokens) <= limit:
        return tokens
    head = tokens[:1] if keep_first else []
    return head + tokens[len(tokens) - (limit - len(head)) :]


class Runtime:
    def __init__(self, loaded: Backend | Generator, config: Config, throughput: Throughput) -> None:
        self.config = config
        self.throughput = throughput
        self.generator: Generator | None = None
        self.backend: Backend | None = None
        self.session: Session | None = None
        self.states: DocumentStates | None = None
        self.fim: FimTemplate | None = None
        """The model's FIM template, if it has one; whether a request uses it is ``route``'s choice."""
        self.end_ids: frozenset[int] = frozenset()
        """The FIM family's end markers in this vocabulary: they end a generation on either route."""
        self.heal_indent = False
        """Token healing backs up a line's indentation too (see ``splits_indentation``)."""
        self.cold_window_s = COLD_WINDOW_S
        self._short_served: dict[str, int] = {}
        """Per document, the line where the window started when a request last took the short window there: the
        next requests go on with the whole window until it is ready (see :mod:`.budget`)."""
        if isinstance(loaded, Generator):
            self.generator = loaded
        else:
            self.backend, self.session = loaded, Session(loaded, lookahead=config.completion.lookahead)
            self.states = DocumentStates(self.session, config.kv_states_mb)
            specials = loaded.info.special_tokens
            self.fim = detect_fim_template(specials)
            self.end_ids = frozenset(specials[t] for t in self.fim.ends if t in specials) if self.fim else frozenset()
            self.heal_indent = splits_indentation(loaded)
            if config.completion.healing:
                self.session.vocabulary  # noqa: B018 -- built with the model, not on the first request

    @property
    def local(self) -> bool:
        return self.session is not None

    def reconfigure(self, config: Config) -> None:
        self.config = config
        if self.session is not None:
            self.session.lookahead = config.completion.lookahead
        if self.states is not None:
            self.states.budget_bytes = config.kv_states_mb * 2**20

    def reset(self) -> None:
        """Empty the KV cache and drop the saved states: after a failure, nothing in them can be trusted."""
        if self.session is not None and self.states is not None:
            self.states.clear()
            self.session.reset()
        self._short_served.clear()

    def forget(self, uri: str) -> None:
        """``uri`` was closed: drop its KV states."""
        if self.states is not None:
            self.states.forget(uri)
        self._short_served.pop(uri, None)

    def close(self) -> None:
        (self.generator or self.backend).close()  # type: ignore[union-attr]

    def route(self, invoked: bool) -> FimTemplate | None:
        """The FIM template a request is prompted with, or None for the prefix alone (``completion.fim``)."""
        mode = self.config.completion.fim
        if self.fim is None or mode == "never" or (mode == "invoked" and not invoked):
            return None
        return self.fim

    def lane(self, invoked: bool) -> str:
        """The saved-state lane of a request's whole window: invoked requests have their own where their prompt is
        of another kind than the automatic ones'."""
        return INVOKED if invoked and self.route(True) is not self.route(False) else WINDOW

    def fit(self, uri: str, ctx: CompletionContext, rules: StopRules, invoked: bool, budgeted: bool = True) -> Fit:
        """The richest prompt whose uncached tokens fit the first-token budget (invoked or not ``budgeted``: no
        budget; see :mod:`.budget`), counting what ``uri``'s saved states hold; token-healed (see ``heal``)."""
        backend, states = self.backend, self.states
        assert backend is not None and states is not None
        cfg = self.config.completion
        limit = backend.info.context_length - rules.max_tokens - 1
        fim = self.route(invoked)
        healed_text: dict[PromptChoice, str] = {}

        def tokenize(choice: PromptChoice) -> list[int]:
            prompt = build_prompt(ctx, fim, choice.blocks, choice.cut)
            before = self.heal(backend.tokenize(prompt.before, add_bos=prompt.add_bos), prompt.add_bos + bool(fim))
            healed_text[choice] = before.text
            tokens = before.tokens + backend.tokenize(prompt.after, add_bos=False) if prompt.after else before.tokens
            return fit_to_context(tokens, limit, prompt.add_bos)

        rate = self.throughput.prefill_tok_s
        budget = None if invoked or not budgeted else int(rate * cfg.first_token_target_ms / 1000)
        cached, short_cached = states.tokens(uri, self.lane(invoked)), states.tokens(uri, SHORT)
        may_cut = self._short_served.get(uri) != ctx.window_start_line
        fit = fit_prompt(ctx, cached, tokenize, budget, int(rate * self.cold_window_s), short_cached, may_cut)
        return dataclasses.replace(fit, healed=healed_text[fit.choice])

    def prompt_tokens(self, uri: str, ctx: CompletionContext, rules: StopRules, invoked: bool) -> tuple[Fit, int]:
        """A request's prompt (see ``fit``), with the live cache switched to its lane, and how many characters of
        the context it holds."""
        assert self.states is not None
        fit = self.fit(uri, ctx, rules, invoked)
        if fit.short:
            self._short_served[uri] = ctx.window_start_line
        elif fit.ready and self._short_served.pop(uri, None) is not None:
            self.states.drop(uri, SHORT)  # it served its one request
        self.states.switch_to(uri, SHORT if fit.short else self.lane(invoked))
        choice = fit.choice
        return fit, len(ctx.prefix) - choice.cut + sum(len(b.text) for b in choice.blocks)

    def generate(
        self,
        uri: str,
        ctx: CompletionContext,
        invoked: bool,
        cancel: CancelToken,
        on_text: Callable[[str], None] | None = None,
    ) -> Outcome:
        """Generate at ``ctx`` for document ``uri``: the shown text, the raw generation and why it is empty."""
        rules = stop_rules(ctx, self.config, self.end_ids)
        cfg = self.config.completion
        if self.generator is not None:
            prompt = build_prompt(ctx, None).text
            return explain(complete_text(self.generator, prompt, rules, cfg.temperature, cancel, on_text), ctx)
        assert self.session is not None
        fit, prompt_chars = self.prompt_tokens(uri, ctx, rules, invoked)
        if not cfg.reuse_cache:  # the bench's naive baseline: same prompt, empty cache
            self.session.reset()
        limit = self.candidate_limit(ctx, invoked)
        if limit > 1 and not ctx.multiline and on_text is not None:
            on_text = without_line_end(on_text)  # the line is not shown until it has won

        def finish(generation: Generation) -> tuple[str, str]:
            outcome = explain(generation, ctx)
            return outcome.text, outcome.reason

        sampler = Sampler(cfg.temperature)
        best = choose(
            self.session, fit.tokens, ctx, rules, sampler, finish, cancel, on_text, limit, cfg.guided, fit.healed
        )
        stats = best.generation.stats
        self.throughput.observe(stats, prompt_chars)
        return Outcome(best.text, best.generation, best.reason)

    def heal(self, tokens: list[int], protected: int) -> Healed:
        """The prompt up to the cursor backed up to the start of the word (or space, or indentation) the cursor
        ends, keeping its first ``protected`` tokens (see :mod:`~smallcoder_lsp.decode.healing`)."""
        assert self.backend is not None
        if not self.config.completion.healing:
            return Healed(tokens)
        return heal(self.backend, tokens, max(1, protected), indent=self.heal_indent)

    def candidate_limit(self, ctx: CompletionContext, invoked: bool) -> int:
        """How many candidates a request may compare: invoked ones the most; automatic blocks only one, since
        their lines are shown as they come; and a FIM prompt shows the model the suffix itself."""
        cfg = self.config.completion
        if self.route(invoked) is not None or (ctx.multiline and not invoked) or not cfg.guided:
            return 1
        return cfg.candidates if invoked else min(cfg.candidates, cfg.auto_candidates)

    def warm(self, uri: str, ctx: CompletionContext, cancel: CancelToken) -> None:
        """Prefill the prompts a request at ``ctx`` would get, so that it starts warm: the short window first where
        an automatic request would take it (the whole one is too far from ready: the first key may come before
        it is), then the whole window."""
        if self.session is None or self.states is None:
            return
        rules = stop_rules(ctx, self.config, self.end_ids)
        first = self.fit(uri, ctx, rules, invoked=False)
        if first.short:
            self.states.switch_to(uri, SHORT)
            self.session.prefill(first.tokens, cancel)
        self.states.switch_to(uri, WINDOW)
        self.session.prefill(self.fit(uri, ctx, rules, invoked=False, budgeted=False).tokens, cancel)

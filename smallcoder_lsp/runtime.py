"""The loaded model as the engine's worker uses it.

A local backend gets a decode session (KV prefix reuse) with per-document KV states; a remote server is a text
generator. Either way: the prompt under the token budget, one generation, trimmed and checked, and for
invoked requests to a prefix-only model, optionally reranked by the lines that follow the cursor.
Everything here runs on the engine's single model worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from smallcoder_lsp.backends.base import Backend, Generator
from smallcoder_lsp.budget import Throughput, fit_blocks
from smallcoder_lsp.config import Config
from smallcoder_lsp.context.extract import CompletionContext, ContextBlock
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.rerank import following_text, rerank
from smallcoder_lsp.decode.sampling import Sampler
from smallcoder_lsp.decode.session import Session
from smallcoder_lsp.decode.states import DocumentStates
from smallcoder_lsp.decode.stopping import StopRules
from smallcoder_lsp.decode.stream import Generation, complete
from smallcoder_lsp.decode.textstream import complete_text
from smallcoder_lsp.postprocess import postprocess
from smallcoder_lsp.prompt import FimTemplate, build_prompt, detect_fim_template

log = logging.getLogger(__name__)

TRUNCATED = ("max_tokens", "deadline", "context")
"""Stop reasons that leave the last line unfinished."""


def stop_rules(ctx: CompletionContext, config: Config) -> StopRules:
    cfg = config.completion
    return StopRules(
        multiline=ctx.multiline,
        indent=ctx.indent,
        max_tokens=cfg.multiline_max_tokens if ctx.multiline else cfg.max_tokens,
        max_lines=cfg.max_lines,
        max_seconds=cfg.timeout_ms / 1000,
    )


def finish(generation: Generation, ctx: CompletionContext) -> str:
    """The shown text of a finished generation."""
    return postprocess(generation.text, ctx, last_line_complete=generation.stats.stop_reason not in TRUNCATED)


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
        if isinstance(loaded, Generator):
            self.generator = loaded
        else:
            self.backend, self.session = loaded, Session(loaded)
            self.states = DocumentStates(self.session, config.kv_states_mb)
            self.fim = detect_fim_template(loaded.info.special_tokens)

    @property
    def local(self) -> bool:
        return self.session is not None

    def close(self) -> None:
        (self.generator or self.backend).close()  # type: ignore[union-attr]

    def prompt_tokens(self, ctx: CompletionContext, rules: StopRules, invoked: bool) -> list[int]:
        """The richest prompt whose uncached tokens fit the first-token budget (invoked: no budget)."""
        backend, session = self.backend, self.session
        assert backend is not None and session is not None
        cfg = self.config.completion
        limit = backend.info.context_length - rules.max_tokens - 1

        def tokenize(blocks: Sequence[ContextBlock]) -> list[int]:
            prompt = build_prompt(ctx, self.fim, blocks)
            return fit_to_context(backend.tokenize(prompt.text, add_bos=prompt.add_bos), limit, prompt.add_bos)

        budget = None if invoked else int(self.throughput.prefill_tok_s * cfg.first_token_target_ms / 1000)
        return fit_blocks(ctx, session.tokens, tokenize, budget)

    def generate(
        self,
        uri: str,
        ctx: CompletionContext,
        invoked: bool,
        cancel: CancelToken,
        on_text: Callable[[str], None] | None = None,
    ) -> tuple[str, Generation]:
        """Generate at ``ctx`` for document ``uri``; returns the shown text and the raw generation."""
        rules = stop_rules(ctx, self.config)
        temperature = self.config.completion.temperature
        if self.generator is not None:
            generation = complete_text(
                self.generator, build_prompt(ctx, None).text, rules, temperature, cancel, on_text
            )
            return finish(generation, ctx), generation
        assert self.session is not None and self.states is not None
        self.states.switch_to(uri)  # first: the budget counts what this document's cache lacks
        tokens = self.prompt_tokens(ctx, rules, invoked)
        if not self.config.completion.reuse_cache:  # the bench's naive baseline: same prompt, empty cache
            self.session.reset()
        generation = complete(self.session, tokens, rules, Sampler(temperature), cancel, on_text)
        self.throughput.observe(generation.stats, len(ctx.prefix) + sum(len(b.text) for b in ctx.blocks))
        text = finish(generation, ctx)
        samples = self.config.completion.rerank_candidates - 1
        if invoked and samples > 0 and self.fim is None:
            text = rerank(
                self.session,
                tokens,
                rules,
                [text] if text else [],
                samples,
                following_text(ctx.suffix),
                lambda g: finish(g, ctx),
                cancel,
            )
        return text, generation

    def warm(self, uri: str, ctx: CompletionContext, cancel: CancelToken) -> None:
        """Prefill the prompt ``ctx`` would get, so the next request there starts warm."""
        if self.session is None or self.states is None:
            return
        self.states.switch_to(uri)
        self.session.prefill(self.prompt_tokens(ctx, stop_rules(ctx, self.config), invoked=True), cancel)

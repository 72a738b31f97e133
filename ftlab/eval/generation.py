"""Batched greedy generation for chat prompts (left padding, length-sorted batches, results in input order),
constrained decoding of the spec's enum fields, and teacher-forced scores of a reference answer."""
import re
import sys
import time

import torch
from tqdm.auto import tqdm
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

from ftlab import triage


class PromptTooLong(ValueError):
    """A prompt that, with the tokens to generate, does not fit the model's context window."""

    def __init__(self, index: int, tokens: int, context: int, max_new_tokens: int):
        super().__init__(f"prompt {index + 1} is {tokens} tokens, and with max_new_tokens {max_new_tokens} that is "
                         f"more than the model's context of {context} tokens; shorten it")
        self.index, self.tokens, self.context = index, tokens, context



def progress_bar(total: int, desc: str, enabled: bool = True):
    """A bar over rows on stderr with the rate and the time left: redrawn at a terminal; in a log (`dvc repro > log`,
    CI) a line every 30 s, where tqdm's own default would print nothing at all."""
    return tqdm(total=total, desc=desc, unit="row", disable=not enabled, file=sys.stderr,
                mininterval=0.1 if sys.stderr.isatty() else 30.0)

def context_length(model):
    """The model's context window in tokens (config.max_position_embeddings), or None if it does not say."""
    value = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    return value if isinstance(value, int) and value > 0 else None


def shared_prefix(encoded: list[list[int]]) -> int:
    """How many leading tokens every prompt shares (the system prompt, few-shot examples), leaving each at
    least one token of its own."""
    if not encoded:
        return 0
    first, shortest = encoded[0], min(len(e) for e in encoded)
    n = 0
    while n < shortest - 1 and all(e[n] == first[n] for e in encoded):
        n += 1
    return n


# A shared prefix shorter than this is recomputed per row: caching it would not pay for the copies.
MIN_SHARED = 32


def generate(model, tokenizer, prompts: list[list[dict]], max_new_tokens: int, batch_size: int, desc: str = "generate",
             constrain: dict[str, tuple[str, ...]] | None = None, json_within: int | None = None, progress: bool = True):
    """Greedy replies to chat `prompts` (lists of messages), as (text, seconds per row) in input order.
    `progress`: a bar over the rows with the time left (progress_bar; a caller with its own progress line turns it off).
    `constrain` ({"severity": SEVERITIES, ...}) limits those fields' string values to the allowed ones (EnumValues).
    `json_within` stops a reply whose first that many non-space characters hold no `{` (NoJsonStart).

    Prompts are sorted by length so a batch pads little. The tokens all prompts share (a system prompt, few-shot
    examples) are run once and their cache reused by every batch: each row is laid out as [shared][padding][own],
    the padding masked, and positions come from the mask, so a row sees exactly the sequence it would see alone;
    the last prompt token stays next to the first generated one, so a batched reply equals the one-at-a-time reply.
    """
    import copy

    encoded = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
               for p in prompts]
    # Checked before any work: a prompt past the context would be cut or, far past it, exhaust memory
    # on an attention matrix of its length squared.
    context = context_length(model)
    for i, ids in enumerate(encoded):
        if context is not None and len(ids) + max_new_tokens > context:
            raise PromptTooLong(i, len(ids), context, max_new_tokens)
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
    device = next(model.parameters()).device
    results = [None] * len(prompts)
    model.eval()
    shared = shared_prefix(encoded) if len(prompts) > 1 else 0
    shared = shared if shared >= MIN_SHARED else 0
    with torch.inference_mode():
        prefix_cache = model(input_ids=torch.tensor([encoded[0][:shared]], device=device), use_cache=True).cache if shared else None
    bar = progress_bar(len(order), desc, progress)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        own = [encoded[i][shared:] for i in batch]
        width = max(map(len, own))
        ids = [encoded[batch[0]][:shared] + [tokenizer.pad_token_id] * (width - len(o)) + o for o in own]
        mask = [[1] * shared + [0] * (width - len(o)) + [1] * len(o) for o in own]
        inputs = {"input_ids": torch.tensor(ids, device=device), "attention_mask": torch.tensor(mask, device=device)}
        if prefix_cache is not None:
            inputs["cache"] = copy.deepcopy(prefix_cache)
            inputs["cache"].batch_repeat_interleave(len(batch))
        started = time.perf_counter()
        with torch.inference_mode():
            output = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                temperature=None, top_p=None, top_k=None,  # greedy: silence the model's sampling defaults
                pad_token_id=tokenizer.pad_token_id,
                logits_processor=LogitsProcessorList(
                    [EnumValues(tokenizer, inputs["input_ids"].shape[1], constrain)] if constrain else []),
                stopping_criteria=StoppingCriteriaList([NoJsonStart(tokenizer, json_within)]) if json_within else None,
            )
        seconds = (time.perf_counter() - started) / len(batch)
        for row, out in zip(batch, output[:, inputs["input_ids"].shape[1]:]):
            results[row] = (tokenizer.decode(out, skip_special_tokens=True).strip(), seconds)
        bar.update(len(batch))
    bar.close()
    return results


def token_strings(tokenizer) -> list[str]:
    """Every token id's text, decoded once per tokenizer (kept on it): what the decoding hooks below read."""
    cache = tokenizer.__dict__.setdefault("_ftlab_enum_cache", {})
    if "strings" not in cache:
        cache["strings"] = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
    return cache["strings"]


class NoJsonStart(StoppingCriteria):
    """Per row: done once the reply has written `chars` characters that are not whitespace and none of them is a
    `{`. Such a reply is prose: it cannot be one JSON object (format conformance needs nothing before it), and on
    this project's evaluation no reply that had not begun its object by then wrote one later (none of 380 base
    replies decoded to 112 tokens held a JSON object; every reply that held one began it within 8 characters,
    2026-12-03). The base zero-shot writes prose for every row, and this keeps it from holding each batch to
    max_new_tokens."""

    def __init__(self, tokenizer, chars: int):
        self.strings, self.chars, self.seen = token_strings(tokenizer), chars, None

    def __call__(self, input_ids, scores, **kwargs):
        if self.seen is None:
            self.seen = [[0, False] for _ in range(input_ids.shape[0])]  # per row: non-space characters, a `{` among them
        for row, token in enumerate(input_ids[:, -1].tolist()):  # called once per new token, after it is appended
            seen = self.seen[row]
            if not seen[1] and seen[0] < self.chars:
                text = "".join(self.strings[token].split()) if 0 <= token < len(self.strings) else ""
                seen[1] = "{" in text[: self.chars - seen[0]]
                seen[0] += len(text)
        return torch.tensor([not opened and count >= self.chars for count, opened in self.seen], device=input_ids.device)


# ---- Constrained decoding of the spec's enum fields --------------------------------------------------

# The end of a reply that is inside the string value of a key: `"severity": "SE` -> ("severity", "SE").
_OPEN_VALUE = re.compile(r'"([a-z_]+)"\s*:\s*"([^"\\]*)$')
# What may follow a value's closing quote inside the same token: JSON punctuation and space (`",`, `"}`, `", "`).
_AFTER_VALUE = re.compile(r'[\s,}\]"]*')


class EnumValues(LogitsProcessor):
    """Constrained decoding: while a reply is inside the string value of one of `fields` (its text ends in
    `"severity": "SE`), only the tokens that continue one of that field's allowed values, or close it with
    its quote, keep their scores; the rest get -inf. Everywhere else nothing changes, so a model that writes
    a valid label anyway is decoded exactly as plain greedy decoding would decode it, and greedy over the
    allowed continuations picks the value the model finds most likely at each token."""

    def __init__(self, tokenizer, prompt_length: int, fields: dict[str, tuple[str, ...]]):
        self.tokenizer, self.prompt_length, self.fields = tokenizer, prompt_length, fields
        # The allowed sets are computed once per (field, text so far) and kept with the tokenizer.
        self.strings = token_strings(tokenizer)
        self.allowed_sets = tokenizer.__dict__.setdefault("_ftlab_enum_cache", {}).setdefault("allowed", {})

    def allowed(self, field: str, partial: str):
        key = (field, tuple(self.fields[field]), partial)
        if key not in self.allowed_sets:
            ends = [v + '"' for v in self.fields[field] if v.startswith(partial)]
            ids = [i for i, s in enumerate(self.strings) if s and any(
                end.startswith(partial + s) or ((partial + s).startswith(end)
                                                and _AFTER_VALUE.fullmatch((partial + s)[len(end):])) for end in ends)]
            self.allowed_sets[key] = torch.tensor(ids, dtype=torch.long) if ids else None
        return self.allowed_sets[key]

    def __call__(self, input_ids, scores):
        # The last 24 tokens of each reply hold any open value (a key, a colon, a quote and a few value tokens).
        tails = self.tokenizer.batch_decode(input_ids[:, max(self.prompt_length, input_ids.shape[1] - 24):],
                                            skip_special_tokens=True)
        for row, tail in enumerate(tails):
            match = _OPEN_VALUE.search(tail)
            if match is None or match[1] not in self.fields:
                continue
            allowed = self.allowed(match[1], match[2])
            if allowed is None:  # the value already left every allowed spelling: nothing sensible to enforce
                continue
            keep = scores[row, allowed.to(scores.device)]
            scores[row] = float("-inf")
            scores[row, allowed.to(scores.device)] = keep
        return scores


# ---- The reference answer's loss, and likelihood scoring of its labels --------------------------------

def _value_spans(answer: str, fields) -> dict[str, tuple[int, int]]:
    """Character span of each field's string value in a JSON answer (the first occurrence of the key)."""
    return {field: m.span(1) for field in fields if (m := triage.string_value(field).search(answer))}


def answer_scores(model, tokenizer, conversations: list[list[dict]], fields: dict[str, tuple[str, ...]] | None = None,
                  score_values: bool = True, desc: str = "scores", progress: bool = True):
    """Teacher-forced scores of each conversation's last message (the reference answer) given the messages
    before it, one forward pass each:
      answer_loss         the mean next-token loss of the answer (the test loss of a fine-tune; any data set);
      <field>_label_loss  for each of `fields` the answer has as a string (severity, category), the summed
                          loss of its value's tokens, which are 2-4 of the answer's ~70 and are drowned in its mean;
      <field>_scored      the allowed value the model finds most likely in that place (each value's summed
                          log-probability after the same answer prefix): the label by likelihood scoring; only
                          with score_values (two more forward passes and cache copies a row);
      <field>_logprobs    with it, {value: summed log-probability} of every allowed value.
    """
    import copy

    device = next(model.parameters()).device
    fields = fields or {}
    out = []
    model.eval()
    rows = []
    for messages in conversations:
        prompt_text = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=False)
        full_text = tokenizer.apply_chat_template(messages, tokenize=False)
        prompt = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
        full = tokenizer(full_text, add_special_tokens=False, return_offsets_mapping=True)
        if full["input_ids"][:len(prompt)] != prompt:
            raise ValueError("the chat template's prompt is not a token prefix of the whole conversation")
        rows.append((messages, prompt_text, full_text, prompt, full["input_ids"], full["offset_mapping"]))
    # The tokens every prompt shares (the system prompt, few-shot examples) run once, as in generate(): on a CPU
    # the rubric's ~200 tokens were most of each row's forward pass.
    shared = shared_prefix([r[3] for r in rows]) if len(rows) > 1 else 0
    shared = shared if shared >= MIN_SHARED else 0
    with torch.inference_mode():
        prefix_cache = model(input_ids=torch.tensor([rows[0][4][:shared]], device=device), use_cache=True).cache if shared else None
        bar = progress_bar(len(rows), desc, progress)
        for messages, prompt_text, full_text, prompt, ids, offsets in rows:
            n = len(prompt)
            if prefix_cache is None:
                result = model(input_ids=torch.tensor([ids], device=device), use_cache=bool(fields) and score_values,
                               logits_to_keep=len(ids) - n + 1)
            else:  # the row extends the shared prefix's cache in place; it is cut back to the prefix below
                result = model(input_ids=torch.tensor([ids[shared:]], device=device), cache=prefix_cache,
                               use_cache=True, logits_to_keep=len(ids) - n + 1)
            # logits_to_keep keeps the positions from n-1 on: position n-1 predicts the answer's first token.
            logprobs = torch.log_softmax(result.logits[0].float(), dim=-1)
            token_loss = -logprobs[torch.arange(len(ids) - n), torch.tensor(ids[n:], device=device)]
            row = {"answer_loss": round(token_loss.mean().item(), 4)}
            answer_start = full_text.rindex(messages[-1]["content"], len(prompt_text))
            for field, (a, b) in _value_spans(messages[-1]["content"], fields).items():
                a, b = a + answer_start, b + answer_start
                first = next((i for i, (s, e) in enumerate(offsets) if e > a), None)
                if first is None or offsets[first][0] != a or first < n:
                    continue  # the value's first token also holds its quote: no clean place to score from
                last = max(i for i, (s, e) in enumerate(offsets) if s < b)
                row[f"{field}_label_loss"] = round(token_loss[first - n:last + 1 - n].sum().item(), 4)
                if score_values:
                    totals = _value_logprobs(model, tokenizer, result.cache, ids[:first], logprobs[first - n],
                                             full_text[:a], fields[field], copy)
                    if totals is not None:
                        row[f"{field}_scored"] = max(totals, key=totals.get)
                        row[f"{field}_logprobs"] = totals
            if prefix_cache is not None and prefix_cache.get_seq_length() > shared:
                prefix_cache.crop(shared - prefix_cache.get_seq_length())  # a negative crop removes that many tokens
            out.append(row)
            bar.update(1)
        bar.close()
    return out


def _value_logprobs(model, tokenizer, cache, prefix_ids, first_logprobs, prefix_text, values, copy):
    """{value: the summed log-probability of its tokens after `prefix_ids`} for each of `values`, reusing the
    forward pass's cache cut back to the prefix (None where a value would merge with the text before it). (No spec
    value is a prefix of another, so the closing quote, which this tokenizer merges with what follows, is left out.)"""
    tails = []
    for value in values:
        ids = tokenizer(prefix_text + value, add_special_tokens=False)["input_ids"]
        if ids[:len(prefix_ids)] != prefix_ids:
            return None  # the value would merge with the text before it: not comparable token by token
        tails.append(ids[len(prefix_ids):])
    cache = copy.deepcopy(cache)
    cache.crop(len(prefix_ids) - cache.get_seq_length())  # a negative crop removes that many tokens
    cache.batch_repeat_interleave(len(values))
    width = max(len(t) for t in tails)
    device = first_logprobs.device
    inputs = torch.tensor([t + [t[-1]] * (width - len(t)) for t in tails], device=device)
    mask = torch.ones(len(values), len(prefix_ids) + width, dtype=torch.long, device=device)
    positions = torch.arange(len(prefix_ids), len(prefix_ids) + width, device=device).expand(len(values), -1)
    logits = model(input_ids=inputs, attention_mask=mask, position_ids=positions, cache=cache).logits.float()
    logprobs = torch.log_softmax(logits, dim=-1)
    totals = [first_logprobs[t[0]].item() + sum(logprobs[v, j - 1, t[j]].item() for j in range(1, len(t)))
              for v, t in enumerate(tails)]
    return {value: round(total, 4) for value, total in zip(values, totals)}

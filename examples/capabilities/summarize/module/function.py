"""Summarize: extractive summary of one section.

Scores each sentence by the document frequency of its content words and keeps
the best sentences, in their original order, within a word budget taken from
parameters.max_words (default 60), lowered to the plan's `length` constraint
when it is given in words (`context.constraints["length"]`, e.g. "<30w").
"""
import math
import re

STOP = set("""a an and are as at be by for from has have in is it its of on or that the this to was
were will with which who what when where why how not no can may than then there their they them these
those into over per such so but if we our you your one two also each any all more most other some only
own same very just""".split())

LENGTH_WORDS = re.compile(r"^\s*(<=|<|=)?\s*(\d+)\s*w(ords?)?\s*$", re.I)
WORD = re.compile(r"[a-z][a-z'-]*")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def content_words(text):
    return [w for w in WORD.findall(text.lower()) if w not in STOP and len(w) > 2]


class Summarize:
    def __init__(self, name, settings, parameters, global_settings, global_parameters, global_state):
        self.default_words = int(settings.get("max_words", 60)) if isinstance(settings, dict) else 60

    def eval(self, parameters, input_data, context):
        section = input_data.get("section")
        if not isinstance(section, dict) or not isinstance(section.get("text"), str):
            raise ValueError("Summarize needs `section` as {heading, text}")
        budget = int(parameters.get("max_words", self.default_words))
        constraints = getattr(context, "constraints", None) or {}
        m = LENGTH_WORDS.match(str(constraints.get("length", "")))
        # a plan's length is a hard limit; max_words alone may be overshot by the first sentence
        strict = m is not None
        if strict:
            budget = min(budget, int(m.group(2)))
        text = " ".join(section["text"].split())
        sentences = [s for s in SENTENCE_END.split(text) if s]
        freq = {}
        for w in content_words(text):
            freq[w] = freq.get(w, 0) + 1
        scored = []
        for i, s in enumerate(sentences):
            ws = content_words(s)
            score = sum(freq.get(w, 0) for w in ws) / math.sqrt(len(ws) + 1)
            scored.append((score, i, s, len(s.split())))
        chosen, total = [], 0
        for score, i, s, n in sorted(scored, key=lambda t: (-t[0], t[1])):
            if total + n > budget and (chosen or strict):
                continue
            chosen.append((i, s))
            total += n
        summary = " ".join(s for _, s in sorted(chosen))
        if strict and not chosen and sentences:
            # no whole sentence fits the budget: the first words of the best one
            summary = " ".join(sorted(scored, key=lambda t: (-t[0], t[1]))[0][2].split()[:budget])
        return {
            "index": section.get("index", 0),
            "heading": section.get("heading", ""),
            "summary": summary,
            "words": len(summary.split()),
        }

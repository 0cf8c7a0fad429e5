"""AttachReferences: adds a reference list to the merged summary.

Takes every upstream output (a join sees all of them): the merged summary
(an object with `summary`) and the sections (a list of {index, heading, text}).
Each reference names a section and its most characteristic terms, so a reader
can find where each part of the summary came from.
"""
import re
from collections import Counter

COMMON = set("""the and for that with this from are was were have has not but can may into than then
they them their there these those such each also only some more most other what when where which while
will would could should about after before because between through under over very just""".split())


def terms(text, n):
    counts = Counter(w for w in re.findall(r"[a-z][a-z-]{3,}", text.lower()) if w not in COMMON)
    return [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def find_upstream(input_data):
    values = list((input_data.get("previous_outputs") or {}).values()) + list(input_data.values())
    merged, sections = None, None
    for v in values:
        if isinstance(v, dict) and isinstance(v.get("summary"), str) and merged is None:
            merged = v
        if isinstance(v, list) and v and all(isinstance(s, dict) and "text" in s for s in v) and sections is None:
            sections = v
    return merged, sections


class AttachReferences:
    def __init__(self, name, settings, parameters, global_settings, global_parameters, global_state):
        pass

    def eval(self, parameters, input_data, context):
        merged, sections = find_upstream(input_data)
        if merged is None:
            raise ValueError("AttachReferences needs the merged summary (an upstream output with `summary`)")
        sections = sections or []
        refs = [
            {"n": i + 1, "section": s.get("heading", ""), "terms": terms(s.get("text", ""), int(parameters.get("terms", 4)))}
            for i, s in enumerate(sorted(sections, key=lambda s: s.get("index", 0)))
        ]
        lines = [f"[{r['n']}] {r['section']}: {', '.join(r['terms'])}" for r in refs]
        title = sections[0].get("title", "") if sections else ""
        document = (f"# Summary of {title}\n\n" if title else "") + merged["summary"] + ("\n\n## References\n" + "\n".join(lines) if lines else "")
        return {"document": document, "references": refs, "words": merged.get("words", 0)}

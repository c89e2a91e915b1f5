"""Prompt templates of the informal engine, in our own words, keeping the output contract
DeepSeekMath-V2 was trained on:

* a proof: ``## Solution`` then ``## Self Evaluation``, the evaluation written like a verifier's;
* a verifier's analysis: "Here is my evaluation of the solution:" ... then
  "Based on my evaluation, the final overall score should be:" and the score (0, 0.5 or 1) in
  ``\\boxed{}``;
* a meta-verifier's analysis: 'Here is my analysis of the "solution evaluation":' ... and a boxed
  rating.

A prompt carries only the problem statement and model outputs (DESIGN.md, "What reaches a
prompt"): reference answers and solutions never reach the generator, verifier, meta-verifier or
refiner. The one exception is the judge, which compares a proof's extracted final answer with
the reference answer after the search has used the proof; its answer is never shown to any
other role.

``--templates FILE`` replaces any template with one from a TOML file (see :func:`load_templates`)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from prover.core.errors import ConfigError
from prover.core.hashing import hash_json

GENERATION = """\
Solve the problem below with a complete and rigorous proof. Justify every step; a correct final \
answer without a valid argument is worth nothing.

Write your response in exactly two parts.

## Solution
Your full proof.

## Self Evaluation
Grade your own proof as a strict examiner would, following these instructions:
{grading_instructions}

Problem:
{statement}
"""

_GRADING = """\
- Check every step for errors, gaps in reasoning, unjustified claims and missing cases.
- Score 1 if the proof is completely correct and rigorous; 0.5 if it is correct in substance \
but has minor errors or omissions that are easy to fix; 0 if it is wrong, incomplete, or has a \
gap that breaks the argument.
- Begin your evaluation with the sentence "Here is my evaluation of the solution:", then \
discuss the proof step by step and list every issue you find.
- End with the sentence "Based on my evaluation, the final overall score should be:" followed \
by the score in \\boxed{{}}, e.g. \\boxed{{0.5}}."""

VERIFICATION = """\
You are grading a proof written for the problem below. Read it critically and decide whether it \
proves the statement.

Grading instructions:
{grading_instructions}

Problem:
{statement}

Proof to grade:
{proof}
"""

META_VERIFICATION = """\
Below are a problem, a proof written for it, and an evaluation of that proof by a grader (the \
"solution evaluation"). Audit the evaluation: for each issue it reports, decide whether the issue \
is really present in the proof and whether it is as serious as claimed; then decide whether the \
score it gives follows from the issues that are real.

Begin your answer with the sentence 'Here is my analysis of the "solution evaluation":', then \
discuss each reported issue. End with the sentence 'Based on my analysis, I will rate the \
"solution evaluation" as:' followed by a rating in \\boxed{{}}: 1 if every reported issue is real \
and the score is justified, 0.5 if the evaluation is partly right, 0 if its issues are not real \
or its score does not follow from them.

Problem:
{statement}

Proof:
{proof}

Solution evaluation:
{analysis}
"""

REFINEMENT = """\
{instruction}

An earlier attempt at this problem and evaluations of it by independent graders are given below. \
The evaluations may point to real errors or gaps; they may also be mistaken. Decide which \
criticisms are valid, then write a new, complete proof that fixes every real problem. Do not refer \
to the earlier attempt: your solution must stand on its own. Use the same two-part format \
(## Solution, then ## Self Evaluation).

{proofs_to_refine}
"""

ANSWER_JUDGE = """\
Two final answers to the same problem are given below. Decide whether they are mathematically \
equivalent (the same value, set or expression, possibly written differently). Answer with \
\\boxed{{yes}} or \\boxed{{no}}.

Problem:
{statement}

Answer A:
{answer}

Answer B:
{reference}
"""

DEFAULT_TEMPLATES: dict[str, str] = {
    "generation": GENERATION,
    "verification": VERIFICATION,
    "meta_verification": META_VERIFICATION,
    "refinement": REFINEMENT,
    "answer_judge": ANSWER_JUDGE,
}
"""The built-in templates (Python ``str.format`` syntax: literal braces are doubled)."""

PLACEHOLDERS: dict[str, frozenset[str]] = {
    "generation": frozenset({"statement", "question", "grading_instructions"}),
    "verification": frozenset({"statement", "question", "proof", "grading_instructions"}),
    "meta_verification": frozenset({"statement", "question", "proof", "analysis", "rating",
                                    "grading_instructions"}),
    "refinement": frozenset({"statement", "question", "instruction", "proof", "analyses",
                             "proofs_to_refine"}),
    "answer_judge": frozenset({"statement", "question", "answer", "reference"}),
}
"""The placeholders each template may use. ``question`` is an alias of ``statement`` and
``rating`` of ``analysis`` (the names DeepSeekMath-V2's own templates use)."""

SYNTAXES = ("format", "plain")


class Templates(BaseModel):
    """The prompt templates of a run."""

    model_config = ConfigDict(frozen=True)

    texts: dict[str, str]
    """Template name → text."""
    syntax: dict[str, str]
    """Template name → ``format`` (Python ``str.format``: literal braces doubled) or ``plain``
    (only ``{placeholder}`` of the template's placeholders is replaced; other braces stay)."""
    source: str = "built-in"
    """Where the overrides came from."""

    def fingerprint(self) -> str:
        """A hash of the texts and syntaxes (part of a search's identity)."""
        return hash_json({"texts": self.texts, "syntax": self.syntax})

    def render(self, name: str, **values: str) -> str:
        allowed = PLACEHOLDERS[name]
        values = {k: v for k, v in values.items() if k in allowed}
        if "statement" in values:
            values.setdefault("question", values["statement"])
        if "analysis" in values:
            values.setdefault("rating", values["analysis"])
        text = self.texts[name]
        if self.syntax[name] == "format":
            return text.format_map(_Strict(values, name))
        return _plain_substitute(text, values, allowed)

    # -- the five prompts ------------------------------------------------------------------

    def grading_instructions(self) -> str:
        return _GRADING.format()

    def generation(self, statement: str) -> str:
        return self.render("generation", statement=statement.strip(),
                           grading_instructions=self.grading_instructions())

    def verification(self, statement: str, proof: str) -> str:
        return self.render("verification", statement=statement.strip(), proof=proof.strip(),
                           grading_instructions=self.grading_instructions())

    def meta_verification(self, statement: str, proof: str, analysis: str) -> str:
        return self.render("meta_verification", statement=statement.strip(), proof=proof.strip(),
                           analysis=analysis.strip(), grading_instructions=self.grading_instructions())

    def refinement(self, statement: str, proof: str, analyses: Sequence[str]) -> str:
        """A refinement prompt: the generation prompt, then the proof and its analyses laid out
        as DeepSeekMath-V2's refinement inputs are (``--- Solution 0 ---``,
        ``=== Evaluation i of Solution 0 ===``)."""
        evaluations = "\n\n".join(f"=== Evaluation {i} of Solution 0 ===\n{a.strip()}"
                                  for i, a in enumerate(analyses))
        block = f"--- Solution 0 ---\n{proof.strip()}\n\n{evaluations}".strip()
        return self.render("refinement", statement=statement.strip(), instruction=self.generation(statement).strip(),
                           proof=proof.strip(), analyses=evaluations, proofs_to_refine=block)

    def answer_judge(self, statement: str, answer: str, reference: str) -> str:
        return self.render("answer_judge", statement=statement.strip(), answer=answer.strip(),
                           reference=reference.strip())


class _Strict(dict):
    def __init__(self, values: Mapping[str, str], name: str):
        super().__init__(values)
        self.name = name

    def __missing__(self, key: str) -> str:
        raise ConfigError(f"template {self.name!r} uses {{{key}}}, which it cannot have "
                          f"(placeholders: {', '.join(sorted(PLACEHOLDERS[self.name]))})")


_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")


def _plain_substitute(text: str, values: Mapping[str, str], allowed: frozenset[str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)) if m.group(1) in allowed
                            else m.group(0), text)


def default_templates() -> Templates:
    return Templates(texts=dict(DEFAULT_TEMPLATES), syntax={k: "format" for k in DEFAULT_TEMPLATES})


def load_templates(path: str | Path | None) -> Templates:
    """The built-in templates, with those a TOML file names replaced.

    The file holds one entry per template, either a string or a table::

        syntax = "format"            # optional default for the file: "format" or "plain"

        generation = '''... {statement} ...'''

        [verification]
        template = '''... {statement} ... {proof} ...'''
        syntax = "plain"             # optional, per template

    Names: generation, verification, meta_verification, refinement, answer_judge. A template
    that uses a placeholder it cannot have, or lacks the one it must have, is a ConfigError."""
    base = default_templates()
    if path is None:
        return base
    path = Path(path)
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"--templates {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--templates {path}: not valid TOML: {exc}") from None
    default_syntax = doc.pop("syntax", "format")
    if default_syntax not in SYNTAXES:
        raise ConfigError(f"--templates {path}: syntax must be one of {', '.join(SYNTAXES)}")
    texts, syntax = dict(base.texts), dict(base.syntax)
    for name, entry in doc.items():
        if name not in DEFAULT_TEMPLATES:
            raise ConfigError(f"--templates {path}: unknown template {name!r} "
                              f"(templates: {', '.join(DEFAULT_TEMPLATES)})")
        if isinstance(entry, str):
            text, syn = entry, default_syntax
        elif isinstance(entry, dict) and isinstance(entry.get("template"), str):
            unknown = set(entry) - {"template", "syntax"}
            if unknown:
                raise ConfigError(f"--templates {path}: [{name}] has unknown keys {sorted(unknown)}")
            text, syn = entry["template"], entry.get("syntax", default_syntax)
        else:
            raise ConfigError(f"--templates {path}: {name} must be a string or a table with 'template'")
        if syn not in SYNTAXES:
            raise ConfigError(f"--templates {path}: [{name}] syntax must be one of {', '.join(SYNTAXES)}")
        _check_template(name, text, syn, str(path))
        texts[name], syntax[name] = text, syn
    return Templates(texts=texts, syntax=syntax, source=str(path))


_REQUIRED: dict[str, tuple[frozenset[str], ...]] = {
    # Each tuple lists alternatives; a template must use one name of each.
    "generation": (frozenset({"statement", "question"}),),
    "verification": (frozenset({"statement", "question"}), frozenset({"proof"})),
    "meta_verification": (frozenset({"statement", "question"}), frozenset({"proof"}),
                          frozenset({"analysis", "rating"})),
    "refinement": (frozenset({"statement", "question", "instruction"}),
                   frozenset({"proof", "proofs_to_refine"})),
    "answer_judge": (frozenset({"answer"}), frozenset({"reference"})),
}


def _check_template(name: str, text: str, syntax: str, source: str) -> None:
    if syntax == "format":
        import string

        try:
            used = {field.split(".")[0].split("[")[0] for _, field, _, _ in string.Formatter().parse(text)
                    if field is not None}
        except ValueError as exc:
            raise ConfigError(f"--templates {source}: {name}: {exc} (with syntax = \"format\", "
                              f"write literal braces as {{{{ and }}}})") from None
        if any(not f or f.isdigit() for f in used):
            raise ConfigError(f"--templates {source}: {name} has an unnamed {{}} field (with syntax = \"format\", "
                              f"write literal braces as {{{{ and }}}}, or use syntax = \"plain\")")
        unknown = used - PLACEHOLDERS[name]
        if unknown:
            raise ConfigError(f"--templates {source}: {name} uses {{{sorted(unknown)[0]}}}; its placeholders "
                              f"are {', '.join(sorted(PLACEHOLDERS[name]))}")
    else:
        used = {m.group(1) for m in _PLACEHOLDER.finditer(text)} & PLACEHOLDERS[name]
    for alternatives in _REQUIRED[name]:
        if not used & alternatives:
            raise ConfigError(f"--templates {source}: {name} must contain "
                              + " or ".join(f"{{{a}}}" for a in sorted(alternatives)))

"""A few GRPO steps on one device, for scripts/gpu_check_train.sh: through ``train_grpo`` with
TRL, on a local model folder (``--model``, e.g. a downloaded Qwen2.5-0.5B-Instruct) or, without
one, on the tests' tiny random model built on the fly. The reward is a toy one the model can reach
(the share of completion tokens with an even id), so a working run shows the mean reward rising;
with ``--verifier-reward`` the verifier's own reward (R_format · R_score) is used instead.
Mechanics only: no figure printed here is a result.

    python scripts/grpo_check.py --device cuda --steps 4
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def even_share(prompts, completions, completion_ids, **columns):
    return [sum(1 for t in ids if t % 2 == 0) / max(len(ids), 1) for ids in completion_ids]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a local model folder [default: a tiny random model]")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--max-completion-length", type=int, default=32)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--verifier-reward", action="store_true")
    args = parser.parse_args()

    from prover.core.train_records import GrpoSettings, TrainConfig
    from prover.train.grpo import train_grpo

    work = Path(tempfile.mkdtemp(prefix="grpo-check-"))
    model = args.model
    if model is None:
        sys.path.insert(0, str(ROOT / "tests" / "llm"))
        from tiny_model import build_tiny_model

        model = str(build_tiny_model(work / "tiny"))
    data = work / "pointwise.jsonl"
    data.write_text("".join(json.dumps({"proof_id": i, "problem": f"Prove that {2 * i} plus {2 * i + 2} is even.",
                                        "proof": f"Both numbers are even, so {2 * i} + {2 * i + 2} is even.",
                                        "label": 1.0, "source": "formal"}) + "\n" for i in range(8)))
    templates = work / "templates.toml"
    templates.write_text('verification = "Grade this proof.\\nProblem: {statement}\\nProof: {proof}"\n')
    lr = args.lr or (1e-2 if args.model is None else 1e-6)
    config = TrainConfig(data=str(data), model=model, out=str(work / "out"), lr=lr, device=args.device,
                         schedule="constant", templates=str(templates), save_every=args.steps,
                         grpo=GrpoSettings(generations=args.generations, prompts_per_step=2,
                                           max_completion_length=args.max_completion_length, max_steps=args.steps))
    tic = time.perf_counter()
    summary = train_grpo(config, reward_funcs=None if args.verifier_reward else [even_share], progress=False)
    rewards = [json.loads(line).get("reward") for line in (work / "out" / "metrics.jsonl").read_text().splitlines()]
    print(f"model {model} on {summary.device} ({summary.dtype}): {summary.steps} steps in "
          f"{time.perf_counter() - tic:.1f}s; mean reward per step {rewards}")
    if summary.status != "completed" or summary.steps != args.steps:
        print("grpo_check: the run did not complete")
        return 1
    if not args.verifier_reward and args.model is None and not max(rewards[-2:]) > rewards[0]:
        print("grpo_check: the toy reward did not rise")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

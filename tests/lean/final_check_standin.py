"""A stand-in for `lake build` and the three independent checkers, for the final-check wiring
tests (not a test module). It prints each tool's documented output — the lines their sources at
tag v4.27.0 print (fetched from leanprover/lean4checker `Main.lean` and `Lean4CheckerTests/
AddFalse.expected.out`, leanprover/comparator `Main.lean`, GasStationManager/SafeVerify
`Main.lean`) — and exits as they do. No checker ever ran here.

    python final_check_standin.py TOOL ARGS...     TOOL: build | lean4checker | comparator | safeverify

Env STANDIN_MODE: ``ok`` (default), ``reject`` (the tool finds a problem), ``crash`` (exit 2
with a stack-overflow-like message). Env STANDIN_LOG: append ``TOOL ARGS`` per call."""

import os
import sys


def main() -> int:
    tool, args = sys.argv[1], sys.argv[2:]
    mode = os.environ.get("STANDIN_MODE", "ok")
    log = os.environ.get("STANDIN_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(" ".join([tool, *args]) + "\n")
    if mode == "crash":
        sys.stderr.write("Stack overflow detected. Aborting.\n")
        return 2
    if tool == "build":
        print(f"✔ [2/2] Built {args[0]}")
        print("Build completed successfully.")
        return 0
    if tool == "lean4checker":
        module = args[0]
        print(f"Searching for modules matching: [{module}]")
        print("Found 1 modules to check")
        if mode == "reject":
            sys.stderr.write(f"lean4checker found a problem in {module}\n")
            sys.stderr.write("uncaught exception: (kernel) declaration type mismatch, 'false' has type\n  Prop\n"
                             "but it is expected to have type\n  False\n")
            return 1
        return 0
    if tool == "comparator":
        print("Building ProverFinal.Challenge")
        print("Exporting #[t, propext, Quot.sound, Classical.choice] from ProverFinal.Challenge")
        print("Building ProverFinal.Solution")
        print("Exporting #[t, propext, Quot.sound, Classical.choice] from ProverFinal.Solution")
        if mode == "reject":
            sys.stderr.write("uncaught exception: Constant t has a different type in challenge and solution\n")
            return 1
        print("Running Lean default kernel on solution.")
        print("Lean default kernel accepts the solution")
        print("Your solution is okay!")
        return 0
    if tool == "safeverify":
        target, submission = args
        print("Currently running on Lean v4.27.0")
        print(f"Running SafeVerify on target file: {target} and submission file: {submission}.")
        print("------------------")
        for path in (target, submission):
            print(f"Replaying {path}")
            print("Finished setting up the environement.")
            print("Finished replay. Found 3 declarations.")
            print("------------------")
        if mode == "reject":
            sys.stderr.write(f"Found a problem in {submission} with declaration t: theorem type mismatch\n")
            print("------------------")
            sys.stderr.write(f"uncaught exception: SafeVerify check failed for {submission}\n")
            return 1
        print("------------------")
        print("Finished.")
        return 0
    sys.stderr.write(f"unknown tool {tool}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""A fake ``lake env lean --json`` for the file-mode tests:

    python fake_lean.py TABLE.json FILE

It reads FILE, takes the first rule of TABLE whose ``contains`` occurs in it, and prints that
rule's messages as ``lean --json`` lines (REPL-form messages from recorded responses are turned
into Lean's JSON message form: severity ``information`` for ``info``, plus fileName, caption,
keepFullRange...). Exit code 1 when a message is an error, like Lean. Rules may instead ``hang``
or ``exit`` (exit_code, stderr). Env FAKE_LEAN_LOG: append one JSON line per run. Where a
message says ``nonce=NONCE``, the fake writes the nonce of FILE's `#prover_check` line instead
(as ProverCheck's report would carry it).
"""

import json
import os
import re
import sys
import time


def main():
    table = json.load(open(sys.argv[1], encoding="utf-8"))
    path = sys.argv[-1]
    text = open(path, encoding="utf-8").read()
    rule = next((r for r in table.get("rules", []) if r.get("contains", "") in text), {})
    log = os.environ.get("FAKE_LEAN_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"pid": os.getpid(), "file": path, "cwd": os.getcwd(), "text": text}) + "\n")
    action = rule.get("action", "respond")
    if action == "hang":
        time.sleep(3600)
    if action == "exit":
        sys.stderr.write(rule.get("stderr", ""))
        sys.exit(rule.get("exit_code", 1))
    if action == "noise":
        print("✔ [2/3] Built Mathlib.Tactic")
    error = False
    nonce = re.search(r'^#prover_check .*"([0-9a-f]{32})"', text, re.M)
    messages = rule.get("messages", [])
    if nonce:
        messages = json.loads(json.dumps(messages).replace("nonce=NONCE", "nonce=" + nonce.group(1)))
    for m in messages:
        sev = {"info": "information"}.get(m["severity"], m["severity"])
        error |= sev == "error"
        print(json.dumps({"severity": sev, "pos": m["pos"], "endPos": m.get("endPos"), "keepFullRange": False,
                          "fileName": path, "data": m["data"], "caption": "", "isSilent": False,
                          "kind": "[anonymous]"}, ensure_ascii=False))
    sys.exit(1 if error else 0)


if __name__ == "__main__":
    main()

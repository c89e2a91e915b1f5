/-
ProverCheck: the trusted epilogue of every file prover checks.

The assembled file imports this library (compiled, not Lean source in the file), so nothing the
model writes — notation, namespaces, `variable`s, `open`s, options — changes what the command
below does. It is invoked exactly once, as the file's last command, with literal arguments only:

  #prover_check TARGET FINGERPRINT "NONCE" [C1, C2, …]

* TARGET      the target theorem's full name (looked up as written: no namespace resolution);
* FINGERPRINT the reserved axiom the prologue declared with the problem's own statement, before
              any model text (`_prover_fp`);
* NONCE       32 lowercase hexadecimal digits, drawn afresh for each check;
* [C1, …]     optional: constants (the sketch's step lemmas) whose occurrence in TARGET's proof
              term is reported.

It logs exactly one information message, one line, in this format (version 1):

  prover_check 1 nonce=N status=S type=T axioms=A sorry=B other=K used=U

* S: `ok`, or why TARGET cannot be compared: `missing-target`, `missing-fingerprint`,
     `imported-target`, `imported-fingerprint`, `fingerprint-not-axiom`, `unsafe`, `partial`,
     `not-theorem` (neither a theorem nor a safe definition), `universes`;
* T: `match` (the kernel accepted `theorem _ : <fingerprint's type> := TARGET`, or a `def` when
     TARGET is a definition), `mismatch` (it did not), `unchecked` (status is not `ok`);
* A: the standard axioms TARGET depends on, in the fixed order propext, Classical.choice,
     Quot.sound, comma-separated, or `-`;
* B: 1 when TARGET depends on `sorryAx`, else 0;
* K: how many other axioms TARGET depends on (their names are model-controlled: never printed);
* U: one digit per given constant (1: it occurs in TARGET's proof term, directly or through
     declarations of this file), or `-` without a list.

Every word of the message is ours: no name, type or text from the checked file is printed.
The command resets the options for its own work (heartbeats, recursion depth, synchronous
elaboration) and leaves the environment as it found it.

Written against the Lean 4 API of v4.27.0; see README.md for what a first run must confirm.
-/
import Lean

namespace ProverCheck

open Lean Elab Command

/-- Version of the message format; `prover/lean/epilogue.py` parses exactly this version. -/
def formatVersion : Nat := 1

/-- The axioms a verified proof may depend on, in the order the message lists them. -/
def standardAxioms : Array Name := #[``propext, ``Classical.choice, ``Quot.sound]

/-- The name of the theorem the kernel is asked to accept (never kept in the environment). -/
def checkName : Name := Name.mkSimple "_prover_check_type"

/-- The options the check's own work runs under, whatever the checked file set: Lean's default
limits, and `Elab.async false` so that `addDecl` runs the kernel before returning. A fresh
`Options` value also drops `debug.skipKernelTC` and every other option the file may have set. -/
def checkOptions : Options :=
  let o : Options := default
  let o := Lean.Option.set o maxHeartbeats 200000
  let o := Lean.Option.set o maxRecDepth 512
  Lean.Option.set o Elab.async false

/-- What the check found; rendered by `Outcome.render`. -/
structure Outcome where
  status : String
  typeCheck : String := "unchecked"
  axioms : Array Name := #[]
  usesSorry : Bool := false
  other : Nat := 0
  used : Option String := none

/-- The one message line. -/
def Outcome.render (o : Outcome) (nonce : String) : String :=
  let axs := if o.axioms.isEmpty then "-" else ",".intercalate (o.axioms.toList.map toString)
  let srr := if o.usesSorry then "1" else "0"
  let usd := o.used.getD "-"
  s!"prover_check {formatVersion} nonce={nonce} status={o.status} type={o.typeCheck} " ++
    s!"axioms={axs} sorry={srr} other={o.other} used={usd}"

/-- Constants reachable from `root`: those occurring in it, and those occurring in the values
of the declarations of this file it reaches (auxiliary lemmas, `match` and `proof_n` helpers).
Imported declarations are not entered. -/
def localClosure (env : Environment) (root : Expr) : NameSet := Id.run do
  let mut seen : NameSet := {}
  let mut todo : Array Name := root.getUsedConstants
  while !todo.isEmpty do
    let c := todo.back!
    todo := todo.pop
    if seen.contains c then
      continue
    seen := seen.insert c
    if (env.getModuleIdxFor? c).isNone then
      if let some info := env.find? c then
        if let some v := info.value? then
          todo := todo ++ v.getUsedConstants
  return seen

/-- Whether a 32-digit lowercase hexadecimal nonce. -/
def validNonce (s : String) : Bool :=
  s.length == 32 && s.all fun c => c.isDigit || ('a' ≤ c && c ≤ 'f')

/-- The check itself (run under `checkOptions`). -/
def runCheck (target fp : Name) (consts : Option (Array Name)) : CoreM Outcome := do
  let env ← getEnv
  let some info := env.find? target | return { status := "missing-target" }
  let some fpInfo := env.find? fp | return { status := "missing-fingerprint" }
  unless (env.getModuleIdxFor? target).isNone do return { status := "imported-target" }
  unless (env.getModuleIdxFor? fp).isNone do return { status := "imported-fingerprint" }
  let .axiomInfo fpVal := fpInfo | return { status := "fingerprint-not-axiom" }
  if info.isUnsafe then return { status := "unsafe" }
  if info.isPartial then return { status := "partial" }
  -- A theorem, or a safe definition (ProofNet states some exercises as `def`s whose type is the
  -- structure to construct); anything else is not a target.
  let comparable : Option (List Name × Expr × Bool) := match info with
    | .thmInfo v => some (v.levelParams, v.value, true)
    | .defnInfo v => if v.safety == .safe then some (v.levelParams, v.value, false) else none
    | _ => none
  let some (levelParams, value, isThm) := comparable | return { status := "not-theorem" }
  if levelParams != fpVal.levelParams then return { status := "universes" }
  -- The comparison in the kernel: a declaration whose type is the fingerprint's and whose value
  -- is TARGET. Sound whatever elaborated TARGET's statement, and it accepts definitionally equal
  -- restatements. Added and dropped again (`withoutModifyingEnv`).
  let levels := fpVal.levelParams.map mkLevelParam
  let decl :=
    if isThm then
      Declaration.thmDecl {
        name := checkName, levelParams := fpVal.levelParams, type := fpVal.type,
        value := mkConst target levels, all := [checkName] }
    else
      Declaration.defnDecl {
        name := checkName, levelParams := fpVal.levelParams, type := fpVal.type,
        value := mkConst target levels, hints := .opaque, safety := .safe, all := [checkName] }
  let typeOk ← withoutModifyingEnv do
    try
      addDecl decl
      pure true
    catch _ =>
      pure false
  let axs ← collectAxioms target
  let std := standardAxioms.filter axs.contains
  let other := (axs.filter fun a => !standardAxioms.contains a && a != ``sorryAx).size
  let used := consts.map fun cs =>
    let reach := localClosure env value
    String.join (cs.toList.map fun c => if reach.contains c then "1" else "0")
  return { status := "ok", typeCheck := if typeOk then "match" else "mismatch", axioms := std,
           usesSorry := axs.contains ``sorryAx, other, used }

/-- `#prover_check TARGET FINGERPRINT "NONCE" [C1, …]`: see the module docstring. -/
syntax (name := proverCheck) "#prover_check " ident ident str ("[" ident,* "]")? : command

@[command_elab proverCheck] def elabProverCheck : CommandElab := fun stx => do
  -- Names are taken exactly as written (`getId`): no `open`, namespace or alias can redirect them.
  let target := stx[1].getId
  let fp := stx[2].getId
  let some nonce := stx[3].isStrLit?
    | throwError "prover_check: the nonce is not a string literal"
  unless validNonce nonce do
    throwError "prover_check: the nonce is not 32 lowercase hexadecimal digits"
  let list := stx[4]
  let consts : Option (Array Name) :=
    if list.isNone then none else some (list[1].getSepArgs.map (·.getId))
  withScope (fun sc => { sc with opts := checkOptions }) do
    let outcome ← liftCoreM (runCheck target fp consts)
    logInfo (outcome.render nonce)

end ProverCheck

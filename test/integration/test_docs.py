"""The documentation keeps up with the code ("docs an admin can trust").

Pure Python: reads README.md, docs/*.md and the sources under mod_mapptrack/; no
httpd is started, and no fixture is used, so each test runs once (not per MPM).

- every `MAPPTRACK` outcome the docs name is produced by the code, and every
  outcome the code sets is in each table of `MAPPTRACK` values;
- every message ID `MTnnnn` the docs name is logged by the code, and every ID the
  code logs has a row (level, meaning, what to do) in docs/operations.md's list,
  with the level the code logs it at;
- every directive of the command table in mod_mapptrack/httpd/config.cpp has an
  entry in docs/directives.md (Description, Syntax, Default, Context lines, the
  context matching the table), and every directive the docs name exists.
"""

import glob
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CODE_DIR = os.path.join(REPO, "mod_mapptrack")
CONFIG_CPP = os.path.join(CODE_DIR, "httpd", "config.cpp")
DIRECTIVES_MD = os.path.join(REPO, "docs", "directives.md")
OPERATIONS_MD = os.path.join(REPO, "docs", "operations.md")

LEVELS = ["emerg", "alert", "crit", "error", "warn", "notice", "info", "debug", "trace1"]  # most severe first
CODE_LEVEL = {
    "APLOG_EMERG": "emerg", "APLOG_ALERT": "alert", "APLOG_CRIT": "crit", "APLOG_ERR": "error",
    "APLOG_WARNING": "warn", "APLOG_NOTICE": "notice", "APLOG_INFO": "info", "APLOG_DEBUG": "debug",
    "APLOG_TRACE1": "trace1",
    "LogLevel::Emerg": "emerg", "LogLevel::Alert": "alert", "LogLevel::Crit": "crit",
    "LogLevel::Error": "error", "LogLevel::Warn": "warn", "LogLevel::Notice": "notice",
    "LogLevel::Info": "info", "LogLevel::Debug": "debug",
}


def rel(path):
    return os.path.relpath(path, REPO)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def doc_files():
    files = sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))
    files.append(os.path.join(REPO, "README.md"))
    return files


def code_files():
    out = []
    for root, _, names in os.walk(CODE_DIR):
        out += [os.path.join(root, n) for n in sorted(names) if n.endswith((".cpp", ".h", ".hpp", ".cc"))]
    return sorted(out)


def code_text():
    return {rel(p): read(p) for p in code_files()}


def doc_lines():
    """(file, line number, text) of every doc line."""
    for path in doc_files():
        for n, line in enumerate(read(path).splitlines(), 1):
            yield rel(path), n, line


def cells(row):
    """The cells of a Markdown table row (escaped pipes stay in their cell)."""
    row = row.strip()
    if not row.startswith("|"):
        return None
    parts = re.split(r"(?<!\\)\|", row.strip("|"))
    return [p.strip() for p in parts]


def section(text, heading):
    """The lines of the section under `heading` (a full '## …' line), up to the next
    heading of the same or a higher level, with their line numbers."""
    lines = text.splitlines()
    level = len(heading) - len(heading.lstrip("#"))
    out, inside = [], False
    for n, line in enumerate(lines, 1):
        m = re.match(r"(#+)\s", line)
        if inside and m and len(m.group(1)) <= level:
            break
        if line.strip() == heading:
            inside = True
            continue
        if inside:
            out.append((n, line))
    return out


# --- MAPPTRACK outcomes ------------------------------------------------------

OUTCOME = r"[a-z][a-z0-9-]*(?::[a-z][a-z0-9-]*)?"


def code_outcomes():
    """Outcome values the code sets, where it sets them."""
    setters = [
        r"set_outcome\(\s*\w+\s*,\s*\w+\s*,\s*\"(" + OUTCOME + r")\"",
        r"answer_gif\(\s*\w+\s*,\s*\"(" + OUTCOME + r")\"",
        r"\"MAPPTRACK\"\s*,\s*\"(" + OUTCOME + r")\"",
        r"\boutcome\s*=\s*\"(" + OUTCOME + r")\"",
        r"\"(skipped:[a-z0-9-]+)\"",
    ]
    found = {}
    for path, text in code_text().items():
        for pattern in setters:
            for m in re.finditer(pattern, text):
                line = text.count("\n", 0, m.start()) + 1
                found.setdefault(m.group(1), f"{path}:{line}")
    return found


def outcome_tables():
    """Tables of MAPPTRACK values: {(file, header line): [(line, value)]}."""
    tables = {}
    for path in doc_files():
        current = None
        for n, line in enumerate(read(path).splitlines(), 1):
            c = cells(line)
            if c is None:
                current = None
                continue
            if c[0] == "`MAPPTRACK`" and len(c) >= 2 and "meaning" in c[1].lower():
                current = (rel(path), n)
                tables[current] = []
                continue
            if current is None or set(c[0]) <= set("-: "):
                continue
            m = re.fullmatch(r"`(" + OUTCOME + r")`", c[0])
            if m:
                tables[current].append((n, m.group(1)))
    return tables


def documented_outcomes():
    """Every outcome the docs name: {value: [file:line, …]}."""
    found = {}
    for path, n, line in doc_lines():
        for m in re.finditer(r"\bskipped:[a-z][a-z0-9-]*[a-z0-9]", line):
            found.setdefault(m.group(0), []).append(f"{path}:{n}")
        for m in re.finditer(r"\bMAPPTRACK=(" + OUTCOME + r")", line):
            found.setdefault(m.group(1), []).append(f"{path}:{n}")
    for (path, _), rows in outcome_tables().items():
        for n, value in rows:
            found.setdefault(value, []).append(f"{path}:{n}")
    return found


def test_the_outcome_extraction_works():
    code = code_outcomes()
    assert {"queued", "sent", "skipped:not-page", "skipped:optout"} <= set(code), (
        f"reading the outcomes the code sets found only {sorted(code)}: has the way "
        "MAPPTRACK is set changed (set_outcome, answer_gif, apr_table_setn)? Update test_docs.py")
    assert any(p == rel(DIRECTIVES_MD) for p, _ in outcome_tables()), (
        f"{rel(DIRECTIVES_MD)} has no table of MAPPTRACK values (a row '| `MAPPTRACK` | meaning |')")


def test_documented_outcomes_are_produced_by_the_code():
    text = "\n".join(code_text().values())
    missing = [f"{', '.join(dict.fromkeys(where))}: MAPPTRACK={value} is documented, but no string literal "
               f"\"{value}\" is in mod_mapptrack/"
               for value, where in sorted(documented_outcomes().items())
               if f'"{value}"' not in text]
    assert not missing, "\n".join(missing)


def test_every_outcome_the_code_sets_is_documented():
    code = code_outcomes()
    missing = []
    for (path, header), rows in sorted(outcome_tables().items()):
        listed = {value for _, value in rows}
        for value, where in sorted(code.items()):
            if value not in listed:
                missing.append(f"{path}:{header}: the table of MAPPTRACK values lacks `{value}` "
                               f"(set at {where})")
    assert not missing, "\n".join(missing)


# --- message IDs ---------------------------------------------------------------

def code_messages():
    """{id: (file:line, {levels})} for every message the code logs ("MTnnnn: …" literals)."""
    found = {}
    call = re.compile(r"\b(?:ap_log_rerror|ap_log_error|ap_log_cerror|log_|log)\s*\(")
    for path, text in code_text().items():
        for m in re.finditer(r"\"(MT[0-9]{4}):", text):
            line = text.count("\n", 0, m.start()) + 1
            starts = [c.start() for c in call.finditer(text, max(0, m.start() - 600), m.start())]
            head = text[starts[-1]:m.start()] if starts else ""
            levels = {CODE_LEVEL[t] for t in re.findall(r"APLOG_[A-Z]+|LogLevel::[A-Za-z]+", head)
                      if t in CODE_LEVEL}
            where, have = found.get(m.group(1), (f"{path}:{line}", set()))
            found[m.group(1)] = (where, have | levels)
    return found


def operations_rows():
    """{id: (line, [cells])} of the message list in docs/operations.md."""
    rows, dupes = {}, []
    for n, line in section(read(OPERATIONS_MD), "## Log messages"):
        c = cells(line)
        if not c:
            continue
        m = re.fullmatch(r"`(MT[0-9]{4})`", c[0])
        if m:
            if m.group(1) in rows:
                dupes.append(f"{rel(OPERATIONS_MD)}:{n}: {m.group(1)} is listed twice "
                             f"(also line {rows[m.group(1)][0]})")
            rows[m.group(1)] = (n, c)
    return rows, dupes


def test_the_message_extraction_works():
    code = code_messages()
    assert len(code) >= 20 and "MT0101" in code, (
        f"reading the message IDs the code logs found only {sorted(code)}: update test_docs.py")
    rows, _ = operations_rows()
    assert rows, f"{rel(OPERATIONS_MD)} has no '## Log messages' table of IDs"


def test_documented_message_ids_are_logged_by_the_code():
    code = code_messages()
    missing = []
    for path, n, line in doc_lines():
        for m in re.finditer(r"\bMT[0-9]{4}\b", line):
            if m.group(0) not in code:
                missing.append(f"{path}:{n}: {m.group(0)} is documented, but no code in mod_mapptrack/ "
                               f"logs it (no string literal \"{m.group(0)}: …\")")
    assert not missing, "\n".join(missing)


def test_every_message_id_is_in_the_operations_list():
    code = code_messages()
    rows, problems = operations_rows()
    for mid, (where, levels) in sorted(code.items()):
        if mid not in rows:
            problems.append(f"{rel(OPERATIONS_MD)} (## Log messages): {mid} is missing; it is logged at "
                            f"{where} ({'/'.join(sorted(levels, key=LEVELS.index)) or 'level unknown'})")
            continue
        n, c = rows[mid]
        if len(c) != 4 or not all(c[1:]):
            problems.append(f"{rel(OPERATIONS_MD)}:{n}: the row of {mid} needs four filled cells: "
                            "ID | level | meaning | what to do")
            continue
        documented = {w for w in re.findall(r"[a-z]+[0-9]?", c[1].lower()) if w in LEVELS}
        if not documented:
            problems.append(f"{rel(OPERATIONS_MD)}:{n}: the level of {mid} ('{c[1]}') names no level "
                            f"({', '.join(LEVELS)})")
        elif levels:
            worst = min(levels, key=LEVELS.index)
            if not documented <= levels or worst not in documented:
                problems.append(f"{rel(OPERATIONS_MD)}:{n}: {mid} is documented at level '{c[1]}', but "
                                f"{where} logs it at {'/'.join(sorted(levels, key=LEVELS.index))}")
    assert not problems, "\n".join(problems)


# --- directives ---------------------------------------------------------------

def command_table():
    """{directive: (line, handler function, where-flags, global only)} from config.cpp."""
    text = read(CONFIG_CPP)
    m = re.search(r"command_rec\s+\w+\[\]\s*=\s*\{(.*?)\n\};", text, re.S)
    assert m, f"{rel(CONFIG_CPP)}: no command_rec table found; update test_docs.py"
    body, offset = m.group(1), m.start(1)
    entry = re.compile(r"\b(?:MT_(\w+)|AP_INIT_(\w+))\(\s*\"(\w+)\"\s*,\s*(?:handler\()?\s*(\w+)\s*\)?\s*,"
                       r"\s*(?:nullptr\s*,\s*|NULL\s*,\s*)?([\w| ]+?)\s*,")
    table = {}
    for e in entry.finditer(body):
        kind, name, fn, where = e.group(1) or e.group(2), e.group(3), e.group(4), e.group(5)
        line = text.count("\n", 0, offset + e.start()) + 1
        f = re.search(r"\b" + re.escape(fn) + r"\s*\(\s*cmd_parms\s*\*[^)]*\)\s*\{(.*?)\n\}", text, re.S)
        global_only = bool(f and re.search(r"global_only\s*\(|GLOBAL_ONLY", f.group(1)))
        table[name] = (line, fn, where.replace(" ", ""), global_only)
        KINDS[name] = kind
    return table


KINDS = {}  # directive -> FLAG, TAKE1, TAKE2, TAKE12, ITERATE (filled by command_table)


def syntax_fits(kind, syntax):
    """Does the first form of a Syntax cell take the arguments its kind passes?"""
    m = re.match(r"`([^`]*)`", syntax)
    if not m:
        return False
    words = m.group(1).replace("\\|", "|").split()[1:]
    optional = [w for w in words if w.startswith("[")]
    required = [w for w in words if not w.startswith("[") and w != "…"]
    repeats = "…" in words  # a word of its own: more arguments (`id[,id]…` is one)
    if kind == "FLAG":
        return words == ["On|Off"]
    if kind == "TAKE1":
        return len(required) == 1 and not optional and not repeats
    if kind == "TAKE2":
        return len(required) == 2 and not optional and not repeats
    if kind == "TAKE12":
        return len(required) == 1 and len(optional) == 1 and not repeats
    if kind == "ITERATE":
        return len(required) >= 1 and repeats
    return False


def directive_entries():
    """{name: (heading line, {field: value})} of docs/directives.md's '## MappTrack…' entries."""
    entries = {}
    text = read(DIRECTIVES_MD)
    for n, line in enumerate(text.splitlines(), 1):
        m = re.fullmatch(r"## (MappTrack\w*)\s*", line)
        if not m:
            continue
        fields = {}
        for _, row in section(text, line.rstrip()):
            c = cells(row)
            if c and len(c) >= 2:
                f = re.fullmatch(r"\*\*(\w+):\*\*", c[0])
                if f:
                    fields[f.group(1)] = c[1]
        entries[m.group(1)] = (n, fields)
    return entries


def test_the_command_table_is_read():
    table = command_table()
    assert len(table) >= 20 and "MappTrack" in table and "MappTrackId" in table, (
        f"reading {rel(CONFIG_CPP)}'s command table found only {sorted(table)}: update test_docs.py")


def test_every_directive_has_a_reference_entry():
    entries = directive_entries()
    problems = []
    for name, (line, _, _, _) in sorted(command_table().items()):
        if name not in entries:
            problems.append(f"{rel(DIRECTIVES_MD)}: no '## {name}' entry for the directive in "
                            f"{rel(CONFIG_CPP)}:{line}")
            continue
        n, fields = entries[name]
        for field in ("Description", "Syntax", "Default", "Context"):
            if not fields.get(field):
                problems.append(f"{rel(DIRECTIVES_MD)}:{n}: the entry of {name} has no "
                                f"'| **{field}:** | … |' line")
        if fields.get("Syntax") and name not in fields["Syntax"]:
            problems.append(f"{rel(DIRECTIVES_MD)}:{n}: the Syntax of {name} does not name it: "
                            f"{fields['Syntax']}")
        elif fields.get("Syntax") and not syntax_fits(KINDS.get(name), fields["Syntax"]):
            problems.append(f"{rel(DIRECTIVES_MD)}:{n}: the Syntax of {name} ({fields['Syntax']}) does not "
                            f"take the arguments of its kind in {rel(CONFIG_CPP)}:{line} ({KINDS.get(name)})")
    assert not problems, "\n".join(problems)


def test_documented_directives_exist():
    table = command_table()
    problems = [f"{rel(DIRECTIVES_MD)}:{n}: '## {name}' documents a directive that is not in "
                f"{rel(CONFIG_CPP)}'s command table"
                for name, (n, _) in sorted(directive_entries().items()) if name not in table]
    # mod_status's ?auto keys (MappTrackSent: …) are not directives.
    auto_keys = set(re.findall(r"(MappTrack\w+): ", read(os.path.join(REPO, "mod_mapptrack/core/status_format.cpp"))))
    assert "MappTrackSent" in auto_keys
    for path in doc_files():
        text = read(path)
        planned = {n for h in re.findall(r"^#+ .*[Pp]lanned.*$", text, re.M) for n, _ in section(text, h)}
        for n, line in enumerate(text.splitlines(), 1):
            if n in planned:
                continue
            for m in re.finditer(r"\bMappTrack[A-Z]\w*|\bMappTrack\b", line):
                if m.group(0) not in table and m.group(0) not in auto_keys:
                    problems.append(f"{rel(path)}:{n}: {m.group(0)} is not a directive in "
                                    f"{rel(CONFIG_CPP)}'s command table (list planned ones under a "
                                    "'Planned' heading)")
    assert not problems, "\n".join(problems)


def test_directive_contexts_match_the_command_table():
    entries = directive_entries()
    problems = []
    for name, (line, _, where, global_only) in sorted(command_table().items()):
        if name not in entries or not entries[name][1].get("Context"):
            continue  # reported by test_every_directive_has_a_reference_entry
        n, fields = entries[name]
        context = re.sub(r"\s+", " ", fields["Context"].lower())
        per_dir = any(w.startswith("OR_") or w == "ACCESS_CONF" for w in where.split("|"))
        if per_dir:
            want = "server config, virtual host, directory" + (", .htaccess" if "OR_" in where else "")
            ok = context.startswith("server config, virtual host, directory") and (
                ".htaccess" in context) == ("OR_" in where)
        elif global_only:
            want = "server config"
            ok = context == want
        else:
            want = "server config, virtual host"
            ok = context == want
        if not ok:
            problems.append(f"{rel(DIRECTIVES_MD)}:{n}: the Context of {name} is '{fields['Context']}', "
                            f"but {rel(CONFIG_CPP)}:{line} ({where}"
                            f"{', global only' if global_only else ''}) means '{want}'")
    assert not problems, "\n".join(problems)


# --- defaults ------------------------------------------------------------------

DEFAULTS_H = os.path.join(REPO, "include", "mapptrack", "defaults.h")


def code_defaults():
    """{directive: value} from include/mapptrack/defaults.h (`kX = expr; // MappTrackY`)."""
    out = {}
    for line in read(DEFAULTS_H).splitlines():
        m = re.match(r"\s*inline constexpr [\w:]+(?: [\w:]+)* k\w+ = ([^;]+);\s*// (MappTrack\w+)", line)
        if m:
            expr = re.sub(r"(\d+)(?:ull|ul|u|ll|l)\b", r"\1", m.group(1), flags=re.I)
            out[m.group(2)] = eval(expr, {"__builtins__": {}})  # numbers and << * only
    return out


def test_documented_defaults_are_the_codes():
    defaults = code_defaults()
    assert len(defaults) >= 10, f"read only {defaults} from {rel(DEFAULTS_H)}: update test_docs.py"
    text = read(DIRECTIVES_MD)
    problems = []
    for directive, value in sorted(defaults.items()):
        entry = section(text, f"## {directive}")
        line = next((l for _, l in entry if l.startswith("| **Default:**")), None)
        if line is None:
            problems.append(f"{rel(DIRECTIVES_MD)}: {directive} has no Default line")
            continue
        m = re.search(rf"`{directive} (\d+)([KMG]?)`", line)
        shown = int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)] if m else None
        if shown != value:
            problems.append(f"{rel(DIRECTIVES_MD)}: {directive}'s Default says {line!r}; "
                            f"{rel(DEFAULTS_H)} has {value}")
    assert not problems, "\n".join(problems)

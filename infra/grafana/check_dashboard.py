#!/usr/bin/env python3
"""Checks that a Grafana dashboard only queries metrics a Prometheus
exposition really has.

usage: check_dashboard.py DASHBOARD.json METRICS.txt

DASHBOARD.json is a Grafana dashboard (this folder's seglake-serve.json);
METRICS.txt is the text a service answered on GET /metrics. Every PromQL
expression of the dashboard (panel targets, also inside rows, annotations,
and the query variables' label_values(...)) is parsed for the metric names it
selects; each must be in the exposition, either as a sample's name or as a
family declared by `# TYPE` (a histogram family `x` also provides `x_bucket`,
`x_sum` and `x_count`), so a counter with no labelled series yet (no request
served) still counts as exposed.

Exit 0 when every name is exposed; 1 naming each panel and metric that is not
(or an expression that cannot be parsed, or no expression at all); 2 on a
usage or file error. Python standard library only.
"""
import json
import re
import sys

# PromQL words that are not metric names.
AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "atan2", "start", "end",
}
FUNCTIONS = {
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
    "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
    "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg",
    "delta", "deriv", "exp", "floor", "histogram_avg", "histogram_count", "histogram_fraction",
    "histogram_quantile", "histogram_stddev", "histogram_stdvar", "histogram_sum", "holt_winters",
    "double_exponential_smoothing", "hour", "idelta", "increase", "info", "irate", "label_join",
    "label_replace", "last_over_time", "ln", "log10", "log2", "mad_over_time", "max_over_time",
    "min_over_time", "minute", "month", "pi", "predict_linear", "present_over_time",
    "quantile_over_time", "rad", "rate", "resets", "round", "scalar", "sgn", "sin", "sinh",
    "sort", "sort_by_label", "sort_by_label_desc", "sort_desc", "sqrt", "stddev_over_time",
    "stdvar_over_time", "sum_over_time", "tan", "tanh", "time", "timestamp", "vector", "year",
}
NOT_METRICS = AGGREGATIONS | KEYWORDS | FUNCTIONS | {"inf", "nan"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}

IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
NAME_MATCHER = re.compile(r"""__name__\s*=\s*(["'])([A-Za-z_:][A-Za-z0-9_:]*)\1""")


class ParseError(Exception):
    pass


def strip_grafana(expr):
    """Grafana variables ($x, ${x}, ${x:fmt}, [[x]]) to neutral text."""
    expr = re.sub(r"\$\{[^}]*\}", "v", expr)
    expr = re.sub(r"\[\[[^\]]*\]\]", "v", expr)
    return re.sub(r"\$[A-Za-z_][A-Za-z0-9_]*", "v", expr)


def metric_names(expr):
    """The metric names a PromQL expression selects."""
    names = set(m.group(2) for m in NAME_MATCHER.finditer(expr))
    text = strip_grafana(expr)
    tokens = []  # (kind, value): kind is "ident", "(" , ")" or "other"
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "\"'`":
            end = text.find(c, i + 1)
            while end != -1 and c != "`" and text[end - 1] == "\\":
                end = text.find(c, end + 1)
            if end == -1:
                raise ParseError("unterminated string")
            tokens.append(("other", "str"))
            i = end + 1
        elif c == "#":  # a comment runs to the end of the line
            end = text.find("\n", i)
            i = n if end == -1 else end
        elif c == "{":  # label matchers: strings inside were handled by the regex above
            depth, j = 1, i + 1
            while j < n and depth:
                if text[j] in "\"'`":
                    k = text.find(text[j], j + 1)
                    while k != -1 and text[j] != "`" and text[k - 1] == "\\":
                        k = text.find(text[j], k + 1)
                    if k == -1:
                        raise ParseError("unterminated string in label matchers")
                    j = k
                elif text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                j += 1
            if depth:
                raise ParseError("unbalanced { }")
            tokens.append(("other", "{}"))
            i = j
        elif c == "[":  # range or subquery: durations only
            end = text.find("]", i)
            if end == -1:
                raise ParseError("unbalanced [ ]")
            tokens.append(("other", "[]"))
            i = end + 1
        elif c in "()":
            tokens.append((c, c))
            i += 1
        elif c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            # a number or a duration (5m, 1h30m, 0x1f, 1e-3)
            m = re.match(r"0[xX][0-9a-fA-F]+|[0-9.]+(?:[eE][+-]?[0-9]+)?(?:[smhdwy]|ms)*", text[i:])
            i += len(m.group(0)) if m else 1
            tokens.append(("other", "num"))
        else:
            m = IDENT.match(text, i)
            if m:
                tokens.append(("ident", m.group(0)))
                i = m.end()
            else:
                tokens.append(("other", c))
                i += 1

    depth = 0
    grouping_depth = None  # paren depth of an open by(...) / on(...) label list
    for k, (kind, value) in enumerate(tokens):
        if kind == "(":
            depth += 1
            if k > 0 and tokens[k - 1][0] == "ident" and tokens[k - 1][1].lower() in GROUPING:
                grouping_depth = depth
            continue
        if kind == ")":
            if grouping_depth == depth:
                grouping_depth = None
            depth -= 1
            if depth < 0:
                raise ParseError("unbalanced ( )")
            continue
        if kind != "ident" or grouping_depth is not None:
            continue
        nxt = tokens[k + 1][0] if k + 1 < len(tokens) else None
        if value.lower() in NOT_METRICS or nxt == "(":
            continue
        names.add(value)
    if depth:
        raise ParseError("unbalanced ( )")
    return names


def variable_expr(query):
    """The PromQL inside a Prometheus query variable, or None (label_names(),
    metrics(regex) and plain label_values(label) select no metric)."""
    query = query.strip()
    m = re.fullmatch(r"label_values\s*\((.*)\)", query, re.S)
    if m:
        args = m.group(1)
        # label_values(selector, label): the selector is everything before the last comma
        # outside braces.
        depth, cut = 0, None
        for i, c in enumerate(args):
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            elif c == "," and depth == 0:
                cut = i
        return args[:cut] if cut is not None else None
    m = re.fullmatch(r"query_result\s*\((.*)\)", query, re.S)
    if m:
        return m.group(1)
    if re.fullmatch(r"(label_names|metrics)\s*\(.*\)", query, re.S):
        return None
    return query


def expressions(dashboard):
    """(where, expr) for every PromQL expression in the dashboard."""
    out = []

    def walk(panels, parent=""):
        for p in panels or []:
            title = p.get("title") or f"panel id {p.get('id')}"
            where = f"{parent}{title}"
            for t in p.get("targets") or []:
                expr = t.get("expr")
                if isinstance(expr, str) and expr.strip():
                    out.append((f"panel '{where}' (ref {t.get('refId', '?')})", expr))
            walk(p.get("panels"), f"{where} / " if p.get("type") == "row" else parent)

    walk(dashboard.get("panels"))
    for a in (dashboard.get("annotations") or {}).get("list") or []:
        expr = a.get("expr") or (a.get("target") or {}).get("expr")
        if isinstance(expr, str) and expr.strip():
            out.append((f"annotation '{a.get('name')}'", expr))
    for v in (dashboard.get("templating") or {}).get("list") or []:
        if v.get("type") != "query":
            continue
        query = v.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if not isinstance(query, str) or not query.strip():
            query = v.get("definition") or ""
        expr = variable_expr(query) if query.strip() else None
        if expr and expr.strip():
            out.append((f"variable '${v.get('name')}'", expr))
    return out


def exposed_names(text):
    """Sample names in a Prometheus text exposition, plus what `# TYPE` lines declare."""
    names = set()
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "TYPE":
                family, kind = parts[2], parts[3]
                names.add(family)
                if kind == "histogram":
                    names.update(family + s for s in ("_bucket", "_sum", "_count"))
                elif kind == "summary":
                    names.update(family + s for s in ("_sum", "_count"))
            continue
        m = IDENT.match(line)
        if m:
            names.add(m.group(0))
    return names


def main(argv):
    if len(argv) != 3:
        print(next(l for l in __doc__.splitlines() if l.startswith("usage:")), file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            dashboard = json.load(f)
        with open(argv[2], encoding="utf-8") as f:
            exposition = f.read()
    except (OSError, ValueError) as e:
        print(f"check_dashboard: {e}", file=sys.stderr)
        return 2
    exposed = exposed_names(exposition)
    if not exposed:
        print(f"check_dashboard: {argv[2]} holds no metric (not a Prometheus exposition?)", file=sys.stderr)
        return 1

    problems, checked, used = [], 0, set()
    for where, expr in expressions(dashboard):
        checked += 1
        try:
            names = metric_names(expr)
        except ParseError as e:
            problems.append(f"{where}: cannot parse `{expr}`: {e}")
            continue
        if not names:
            problems.append(f"{where}: no metric name in `{expr}`")
        for name in sorted(names):
            used.add(name)
            if name not in exposed:
                problems.append(f"{where}: metric `{name}` is not in {argv[2]}")
    if checked == 0:
        problems.append(f"{argv[1]}: no PromQL expression found")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    print(f"ok: {checked} expressions use {len(used)} metrics, all exposed: {', '.join(sorted(used))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

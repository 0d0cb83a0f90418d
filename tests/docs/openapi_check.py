"""Keeps the API reference, the code and the endpoint checklist together.

usage: openapi_check.py ROUTES OPENAPI_JSON ENDPOINTS_MD
  ROUTES        output of `smartcart-ingest --routes` ("METHOD PATTERN" lines)
  OPENAPI_JSON  docs/api/openapi.json
  ENDPOINTS_MD  docs/api/ENDPOINTS.md (the checklist of every endpoint)

Fails (exit 1, naming each problem) when
- openapi.json is not a well-formed OpenAPI 3.1 document of ours: a $ref that
  resolves nowhere, a path parameter not declared (or declared and absent), an
  operation without tags, responses or a unique operationId, an unknown
  security scheme or x-status;
- a served route is not documented, or a documented operation is not served
  (operations marked "x-status": "planned" are exempt while they are not
  served; a served one must lose the marker);
- an ENDPOINTS.md row is not documented, or a documented operation is not in
  ENDPOINTS.md.
Paths are compared without a trailing slash and with every segment holding a
{parameter} reduced to "{}" (the router matches whole segments, so
"/sessions/qr/{token}.png" is served by "/sessions/qr/{file}"). A checklist
path ending in "/..." stands for one or more further segments. Always prints
the operations that are documented but not served yet.
"""
import json
import re
import sys

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
STATUSES = {"planned"}
# (METHOD, normalised path) -> the path as written, for messages.
SHOWN = {}


def key(method, path):
    k = (method.upper(), norm(path))
    SHOWN.setdefault(k, path)
    return k


def norm(path):
    path = path.split("?", 1)[0].strip()
    if len(path) > 1:
        path = path.rstrip("/")
    return "/".join("{}" if "{" in s else s for s in path.split("/"))


def served_routes(text):
    out = set()
    for line in text.splitlines():
        if line.strip():
            method, pattern = line.split(None, 1)
            out.add(key(method, pattern.strip()))
    return out


def checklist(text):
    """{(METHOD, normalised path)} of every table row of ENDPOINTS.md."""
    out = set()
    for line in text.splitlines():
        m = re.match(r"^\|\s*([A-Z][A-Z, ]*?)\s*\|\s*([^|]+?)\s*\|", line)
        if not m:
            continue
        for method in re.split(r"\s*,\s*", m.group(1)):
            for path in re.split(r"\s*,\s*", m.group(2).replace("`", "")):
                if path.startswith("/"):
                    out.add(key(method, path))
    return out


def covers(pattern, path):
    """Whether the checklist pattern (maybe ending in /...) names path."""
    if not pattern.endswith("/..."):
        return pattern == path
    prefix = pattern[: -len("...")]
    return path.startswith(prefix) and len(path) > len(prefix)


def resolve(doc, ref):
    if not ref.startswith("#/"):
        return None
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def walk_refs(node, found):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            found.append(node["$ref"])
        for v in node.values():
            walk_refs(v, found)
    elif isinstance(node, list):
        for v in node:
            walk_refs(v, found)


def param_names(doc, params):
    names = set()
    for p in params or []:
        if "$ref" in p:
            p = resolve(doc, p["$ref"]) or {}
        if p.get("in") == "path":
            names.add(p.get("name"))
    return names


def lint(doc):
    """Problems of the document itself; (METHOD, path, status) of its operations."""
    problems, ops = [], []
    if not str(doc.get("openapi", "")).startswith("3.1"):
        problems.append("openapi must be 3.1.x, is %r" % doc.get("openapi"))
    if not isinstance(doc.get("paths"), dict) or not doc["paths"]:
        problems.append("no paths")
        return problems, ops
    refs = []
    walk_refs(doc, refs)
    problems += ["unresolved $ref %s" % r for r in sorted(set(refs)) if resolve(doc, r) is None]
    schemes = set(doc.get("components", {}).get("securitySchemes", {}))
    tags = {t["name"] for t in doc.get("tags", [])}
    op_ids, seen = set(), {}
    for path, item in doc["paths"].items():
        same = norm(path)
        if same in seen:
            problems.append("%s and %s are the same path" % (seen[same], path))
        seen[same] = path
        template = set(re.findall(r"\{([^}]+)\}", path))
        common = param_names(doc, item.get("parameters"))
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            where = "%s %s" % (method.upper(), path)
            declared = common | param_names(doc, op.get("parameters"))
            if declared != template:
                problems.append("%s: path parameters %s, template has %s"
                                % (where, sorted(declared), sorted(template)))
            if not op.get("responses"):
                problems.append("%s: no responses" % where)
            if not op.get("tags") or not set(op["tags"]) <= tags:
                problems.append("%s: tags %s not all in the top-level tags"
                                % (where, op.get("tags")))
            if not op.get("operationId") or op["operationId"] in op_ids:
                problems.append("%s: missing or duplicate operationId" % where)
            op_ids.add(op.get("operationId"))
            for req in op.get("security", doc.get("security", [])):
                for name in req:
                    if name not in schemes:
                        problems.append("%s: unknown security scheme %s" % (where, name))
            status = op.get("x-status")
            if status is not None and status not in STATUSES:
                problems.append("%s: unknown x-status %r" % (where, status))
            ops.append(key(method, path) + (status,))
    return problems, ops


def main(routes_file, openapi_file, endpoints_file):
    with open(routes_file) as f:
        served = served_routes(f.read())
    with open(openapi_file) as f:
        try:
            doc = json.load(f)
        except ValueError as e:
            print("%s is not valid JSON: %s" % (openapi_file, e))
            return 1
    problems, ops = lint(doc)
    with open(endpoints_file) as f:
        wanted = checklist(f.read())
    documented = {(m, p) for m, p, _ in ops}
    planned = {(m, p) for m, p, s in ops if s == "planned"}

    def listed(title, items):
        if items:
            rows = ["  %s %s" % (m, SHOWN[m, p]) for m, p in sorted(items)]
            problems.append(title + ":\n" + "\n".join(rows))

    listed("served but not in %s" % openapi_file, served - documented)
    listed("documented but not served (mark them \"x-status\": \"planned\" until they are)",
           documented - served - planned)
    listed("served but still marked \"x-status\": \"planned\"", served & planned)
    uncovered = {(m, p) for m, p in wanted
                 if not any(m == dm and covers(p, dp) for dm, dp in documented)}
    # (a served one is reported above as served but not documented)
    listed("in %s but in neither %s nor the served routes" % (endpoints_file, openapi_file),
           uncovered - served)
    listed("documented but not in %s" % endpoints_file,
           {(m, p) for m, p in documented
            if not any(m == wm and covers(wp, p) for wm, wp in wanted)})

    pending = sorted(planned - served)
    print("%d served, %d documented, %d in the checklist; not served yet (%d):"
          % (len(served), len(documented), len(wanted), len(pending)))
    for m, p in pending:
        print("  %s %s" % (m, SHOWN[m, p]))
    for p in problems:
        print("FAIL: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))

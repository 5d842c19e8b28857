"""Render an OpenAPI document as one self-contained HTML page (inline CSS, no scripts, no CDN)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{margin-bottom:0}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}
code,pre{font:13px ui-monospace,monospace;background:#f5f5f5}pre{padding:.6rem;overflow-x:auto}
.m{display:inline-block;min-width:3.5rem;font-weight:bold;color:#fff;text-align:center;
border-radius:3px;padding:0 .3rem;margin-right:.4rem}
.get{background:#2a7ab0}.post{background:#3a9a4a}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:.25rem .5rem;
text-align:left;vertical-align:top}
"""


def render_docs(document: dict[str, Any]) -> str:
    """The HTML page for ``document``: endpoints with examples, then every schema's fields."""
    info = document.get("info", {})
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(info.get('title', 'API'))}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(info.get('title', 'API'))}</h1>",
        f"<p>Model version <code>{escape(str(info.get('version', '')))}</code>. ",
        f"{escape(info.get('description', ''))}</p>",
        "<p>Machine-readable: <a href='openapi.json'>openapi.json</a>.</p>",
        "<h2>Endpoints</h2>",
    ]
    for path, operations in document.get("paths", {}).items():
        for method, op in operations.items():
            parts.append(_operation(path, method, op))
    parts.append("<h2>Schemas</h2>")
    for name, spec in document.get("components", {}).get("schemas", {}).items():
        parts.append(_schema(name, spec))
    parts.append("</body></html>")
    return "".join(parts)


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    out = [
        f"<h3><span class='m {escape(method)}'>{escape(method.upper())}</span>",
        f"<code>{escape(path)}</code> — {escape(op.get('summary', ''))}</h3>",
    ]
    if op.get("description"):
        out.append(f"<p>{escape(op['description'])}</p>")
    content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    for name, example in content.get("examples", {}).items():
        out.append(f"<p>Request example <em>{escape(name)}</em>:</p>{_pre(example['value'])}")
    out.append("<table><tr><th>Status</th><th>Meaning</th><th>Example</th></tr>")
    for status, response in op.get("responses", {}).items():
        body = response.get("content", {}).get("application/json", {})
        examples = [e["value"] for e in body.get("examples", {}).values()]
        if "example" in body:
            examples.append(body["example"])
        shown = "".join(_pre(e) for e in examples)
        out.append(
            f"<tr><td>{escape(status)}</td><td>{escape(response.get('description', ''))}</td>"
            f"<td>{shown}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def _schema(name: str, spec: dict[str, Any]) -> str:
    required = set(spec.get("required", []))
    out = [f"<h3 id='{escape(name)}'>{escape(name)}</h3>"]
    if spec.get("description"):
        out.append(f"<p>{escape(spec['description'])}</p>")
    out.append("<table><tr><th>Field</th><th>Type</th><th>Required</th><th>Notes</th></tr>")
    for field, prop in spec.get("properties", {}).items():
        kind = _kind(prop)
        notes = [prop.get("description", "")]
        if "enum" in prop:
            notes.append("one of " + ", ".join(json.dumps(v) for v in prop["enum"]))
        if "const" in prop:
            notes.append(f"always {json.dumps(prop['const'])}")
        if "minimum" in prop and "maximum" in prop:
            notes.append(f"{prop['minimum']} ≤ value ≤ {prop['maximum']:.8g}")
        if "minLength" in prop or "maxLength" in prop:
            notes.append(f"{prop.get('minLength', 0)} to {prop.get('maxLength', '∞')} characters")
        if "maxItems" in prop:
            notes.append(f"{prop.get('minItems', 0)} to {prop['maxItems']} items")
        out.append(
            f"<tr><td><code>{escape(field)}</code></td><td>{escape(str(kind))}</td>"
            f"<td>{'yes' if field in required else ''}</td>"
            f"<td>{escape('; '.join(n for n in notes if n))}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def _kind(prop: dict[str, Any]) -> str:
    """A property's type in a few words: its JSON type(s), the schema it refers to, or the
    alternatives of an anyOf/oneOf."""
    if "type" in prop:
        kind = prop["type"]
        return " or ".join(kind) if isinstance(kind, list) else str(kind)
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in prop:
            return " or ".join(_kind(option) for option in prop[key])
    if "enum" in prop:
        return "enum"
    return "const" if "const" in prop else "any"


def _pre(value: Any) -> str:
    return f"<pre>{escape(json.dumps(value, indent=2))}</pre>"

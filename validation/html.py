"""A self-contained HTML quality report per batch (opens offline: no script, no remote asset).

great-expectations' Data Docs are not used: the templates of great-expectations 1.x (checked on
1.24.1, ``render/view/templates/js_script_imports.j2`` and ``page.j2``) load jQuery, Bootstrap,
bootstrap-table, popper, Vega and Font Awesome from public CDNs with no setting for local copies,
so the pages would not render on an isolated archive workstation; building them would also need
a file data context, the results rebuilt as great-expectations objects and renderers for
versement's own expectation types. This page carries its own style and nothing else.
Examples that hold personal data are masked: the browser shows them to authorised roles only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from validation.labels import describe_outcome

_STYLE = """
body{font-family:sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:.3em .6em;text-align:left}
.ok{color:#176117}.ko{color:#a40000;font-weight:bold}.warn{color:#8a5a00}code{background:#f3f3f3}
"""


def write_report(path: Path, title: str, datasets: Sequence[Mapping[str, Any]], packaging_rule: str) -> Path:
    """Write the page (to a temporary name, then renamed) and return its path."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="fr"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        "<table><tr><th>Jeu de données</th><th>Lignes</th><th>Contrôles</th><th>Réussis</th>"
        "<th>Échecs bloquants</th><th>Avertissements</th><th>Verdict</th></tr>",
    ]
    for d in datasets:
        verdict = '<span class="ok">conforme</span>' if d["success"] else '<span class="ko">NON CONFORME</span>'
        parts.append(
            f"<tr><td>{escape(d['dataset'])}</td><td>{d['rows']}</td><td>{d['expectations']}</td>"
            f"<td>{d['passed']}</td><td>{d['failed']}</td><td>{d['warnings']}</td><td>{verdict}</td></tr>"
        )
    parts.append("</table>")
    for d in datasets:
        parts.append(
            f"<h2>{escape(d['dataset'])}</h2><table><tr><th>Contrôle</th><th>Gravité</th>"
            "<th>Résultat</th><th>Lignes en défaut</th><th>Exemples</th></tr>"
        )
        for o in d["outcomes"]:
            css = "ok" if o["success"] else ("ko" if o["severity"] == "critical" else "warn")
            result = "réussi" if o["success"] else "échec"
            parts.append(
                f"<tr><td>{escape(describe_outcome(o))}<br><code>{escape(o['expectation'])}</code></td>"
                f'<td>{escape(o["severity"])}</td><td class="{css}">{result}</td>'
                f"<td>{'' if o['unexpected_count'] is None else o['unexpected_count']}</td>"
                f"<td>{_examples(o)}</td></tr>"
            )
        parts.append("</table>")
        for disabled in d.get("disabled") or ():
            parts.append(
                f"<p>Contrôle désactivé : <code>{escape(str(disabled.get('type')))}</code> "
                f"({escape(str(disabled.get('reason')))})</p>"
            )
    parts.append(f"<p>Caractères interdits par XML 1.0 : {escape(packaging_rule)}.</p></body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text("\n".join(parts) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return path


def _examples(outcome: Mapping[str, Any]) -> str:
    examples = outcome.get("examples") or []
    if not examples:
        return ""
    if outcome.get("personal"):
        return f"{len(examples)} exemple(s) masqué(s) : données personnelles, consultables dans le navigateur"
    return "<br>".join(escape(repr(e)) for e in examples)

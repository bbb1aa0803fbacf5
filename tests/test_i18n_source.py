"""Messages are translated before they are formatted, with named placeholders — checked over
the whole source, so the anti-patterns cannot come back.

The catalog holds msgids such as ``"Grade %(n)s"``; a message formatted first (``_(f"...")``,
``_("..." % x)``, ``_("...".format(x))``, ``_(str(exc))`` of a formatted exception text) is
looked up with its values in it, is never found, and the user reads English. A positional
``%s`` cannot be reordered by a translator (Chinese puts things in another order).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from jinja2 import Environment, nodes

ROOT = Path(__file__).resolve().parents[1]
GETTEXT_NAMES = {"_", "_l", "gettext", "lazy_gettext", "ngettext", "lazy_ngettext", "pgettext"}
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}
POSITIONAL = re.compile(r"(?<!%)%(?![(%])[-+#0]*\d*(?:\.\d+)?[sdifr]|\{\d*\}")


def _literal_args(call_args: list, count: int) -> bool:
    return len(call_args) >= count and all(
        isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call_args[:count]
    )


def _python_violations() -> list[str]:
    found = []
    for path in sorted((ROOT / "wellbeing").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in GETTEXT_NAMES or not node.args:
                continue
            count = 2 if name in {"ngettext", "lazy_ngettext", "pgettext"} else 1
            if not _literal_args(node.args, count):
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                found.append(f"{where}: {ast.unparse(node)[:90]}")
    return found


def _template_violations() -> list[str]:
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)  # parsed, not rendered
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        tree = env.parse(path.read_text(encoding="utf-8"))
        for call in tree.find_all(nodes.Call):
            if not isinstance(call.node, nodes.Name) or call.node.name not in GETTEXT_NAMES:
                continue
            count = 2 if call.node.name == "ngettext" else 1
            args = call.args[:count]
            if len(args) < count or not all(
                isinstance(a, nodes.Const) and isinstance(a.value, str) for a in args
            ):
                found.append(f"{path.relative_to(ROOT)}:{call.lineno}: {call.node.name}(…)")
    return found


def test_gettext_is_only_called_with_literal_messages():
    """``_(f"...")``, ``_("..." % x)``, ``_("...".format(x))``, ``_(str(exc))``, ``_(name)``:
    the lookup key is not a msgid. Translate a literal with named placeholders instead, and
    raise messages as ``_l("... %(x)s", x=value)`` (views show ``str(exc)``)."""
    violations = _python_violations() + _template_violations()
    assert violations == [], "formatted before translating:\n" + "\n".join(violations)


def test_no_msgid_has_positional_placeholders():
    positional = []
    for _file, line, message, _comments, _context in extract_from_dir(
        str(ROOT),
        method_map=[("wellbeing/**.py", "python"), ("templates/**.html", "jinja2")],
        keywords=KEYWORDS,
    ):
        for text in message if isinstance(message, tuple) else (message,):
            if text and POSITIONAL.search(text):
                positional.append(f"{_file}:{line}: {text!r}")
    assert positional == [], "use named placeholders (%(name)s):\n" + "\n".join(positional)


def test_the_checks_recognise_the_anti_patterns(tmp_path):
    """The AST check flags each anti-pattern and accepts the right form."""
    bad = [
        '_(f"Grade {n}")',
        '_("Grade %s" % n)',
        '_("Grade {}".format(n))',
        "_(str(exc))",
        "gettext(str(exc))",
        "_(message)",
        'ngettext("%(num)d day", plural, n)',
    ]
    good = ['_("Grade %(n)s", n=n)', '_l("x")', 'ngettext("%(num)d day", "%(num)d days", n)']
    for source in bad + good:
        call = ast.parse(source).body[0].value  # type: ignore[attr-defined]
        name = getattr(call.func, "id", None)
        literal = _literal_args(call.args, 2 if name == "ngettext" else 1)
        assert literal == (source in good), source
    assert POSITIONAL.search("row %s") and POSITIONAL.search("{0} rows")
    assert not POSITIONAL.search("row %(row)s, 100%% done")

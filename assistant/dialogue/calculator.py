"""A safe arithmetic evaluator for spoken and typed sums.

The expression is parsed with Python's `ast` and only a whitelist of nodes is
walked: numbers, + - * / // % **, unary minus/plus, parentheses, `sqrt(x)`
and percent-of ("15% of 80"). Nothing is ever passed to `eval`, names and
attributes are refused, and results too large to say are refused before they
are computed (so "9 ** 9 ** 9" cannot eat the machine).

Errors are `ValueError`s whose message can be spoken as it is:
`ExpressionError` when the text is not arithmetic we accept, `MathError` when
it is but has no answer (division by zero, a number too big to say).
"""

from __future__ import annotations

import ast
import math
import re

from assistant.dialogue.numbers import format_number

MAX_MAGNITUDE = 10**15
"""Largest result (in absolute value) we compute: beyond it numbers are not
worth speaking and floats stop being exact integers."""
MAX_LENGTH = 200
"""Longer input is refused before parsing (deep nesting can exhaust the parser)."""


class ExpressionError(ValueError):
    """The text is not an arithmetic expression this calculator accepts."""


class MathError(ValueError):
    """A valid expression without an answer: division by zero, too big, not real."""


_TOO_BIG = "That number is too big for me to work with."
_DIV_ZERO = "I can't divide by zero."
_NOT_ARITHMETIC = "I can only do arithmetic with numbers."
_UNREADABLE = "I couldn't read that as a calculation."

# "15% of 80" becomes "15 @ 80": `@` has the precedence of `*`, so the
# percent-of keeps its natural grouping inside a longer expression.
_PERCENT_OF = re.compile(r"%\s*of\b")
_TYPED = str.maketrans({"×": "*", "÷": "/", "−": "-", "^": "**"})
_ROOT_SIGN = re.compile(r"√\s*(\d+(?:\.\d+)?)")


def _prepare(expression: str) -> ast.expr:
    if len(expression) > MAX_LENGTH:
        raise ExpressionError("That calculation is too long for me.")
    if "@" in expression:
        raise ExpressionError(_UNREADABLE)
    text = _ROOT_SIGN.sub(r"sqrt(\1)", expression.translate(_TYPED)).replace("√", "sqrt")
    text = _PERCENT_OF.sub("@", text)
    try:
        return ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise ExpressionError(_UNREADABLE) from e


def evaluate(expression: str) -> float:
    """The value of `expression`, e.g. "12*7" -> 84.0, "15% of 80" -> 12.0,
    "sqrt(144)" -> 12.0, "2^10" -> 1024.0. Raises ExpressionError / MathError."""
    return float(_eval(_prepare(expression)))


def describe(expression: str) -> str:
    """The expression in words for a spoken answer: "12*7" -> "12 times 7"."""
    return _words(_prepare(expression))


_BINARY_WORDS: dict[type[ast.operator], str] = {
    ast.Add: "plus",
    ast.Sub: "minus",
    ast.Mult: "times",
    ast.Div: "divided by",
    ast.FloorDiv: "floor divided by",
    ast.Mod: "modulo",
    ast.Pow: "to the power of",
    ast.MatMult: "percent of",
}


def _rank(op: ast.operator) -> int:
    if isinstance(op, ast.Add | ast.Sub):
        return 1
    return 3 if isinstance(op, ast.Pow) else 2


def _check(x: int | float) -> int | float:
    if isinstance(x, complex):
        raise MathError("That answer isn't a real number.")
    if (isinstance(x, float) and not math.isfinite(x)) or abs(x) > MAX_MAGNITUDE:
        raise MathError(_TOO_BIG)
    return x


def _eval(node: ast.expr) -> int | float:
    if isinstance(node, ast.Constant):
        if type(node.value) not in (int, float):  # bool, str, complex, bytes, None
            raise ExpressionError(_NOT_ARITHMETIC)
        return _check(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        v = _eval(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_WORDS:
        return _check(_binary(node.op, _eval(node.left), _eval(node.right)))
    if isinstance(node, ast.Call):
        if not (isinstance(node.func, ast.Name) and node.func.id == "sqrt"):
            raise ExpressionError("The only function I know is the square root.")
        if len(node.args) != 1 or node.keywords:
            raise ExpressionError("The square root takes exactly one number.")
        v = _eval(node.args[0])
        if v < 0:
            raise MathError("I can't take the square root of a negative number.")
        return math.sqrt(v)
    raise ExpressionError(_NOT_ARITHMETIC)


def _binary(op: ast.operator, a: int | float, b: int | float) -> int | float:
    try:
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        if isinstance(op, ast.Div):
            return a / b
        if isinstance(op, ast.FloorDiv):
            return a // b
        if isinstance(op, ast.Mod):
            return a % b
        if isinstance(op, ast.MatMult):
            return a * b / 100
        return _power(a, b)
    except ZeroDivisionError as e:
        raise MathError(_DIV_ZERO) from e
    except OverflowError as e:
        raise MathError(_TOO_BIG) from e


def _power(base: int | float, exp: int | float) -> int | float:
    # Estimate the size first: 10 ** 10 ** 10 must be refused, not computed.
    if base == 0 and exp < 0:
        raise MathError(_DIV_ZERO)
    if abs(base) not in (0, 1) and exp * math.log10(abs(base)) > math.log10(MAX_MAGNITUDE):
        raise MathError(_TOO_BIG)
    if base < 0 and exp != int(exp):
        raise MathError("That answer isn't a real number.")
    return base**exp


def _words(node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return format_number(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        sign = "minus " if isinstance(node.op, ast.USub) else ""
        return sign + _words(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_WORDS:
        left = _words(node.left)
        # "(2+3)*4": a pause after the bracketed part keeps the grouping audible.
        if isinstance(node.left, ast.BinOp) and _rank(node.left.op) < _rank(node.op):
            left += ","
        power = node.right.value if isinstance(node.right, ast.Constant) else None
        if isinstance(node.op, ast.Pow) and power in (2, 3):
            return f"{left} {'squared' if power == 2 else 'cubed'}"
        return f"{left} {_BINARY_WORDS[type(node.op)]} {_words(node.right)}"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 1:
        return f"the square root of {_words(node.args[0])}"
    raise ExpressionError(_NOT_ARITHMETIC)

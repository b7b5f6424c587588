"""PyYAML's syntax errors in plain words: what is wrong, where (line and column), and the likely fix.

PyYAML reports what its parser expected ("expected <block end>, but found '<block sequence start>'"); a test
author needs to hear what the file got wrong ("this line is indented differently from the keys above it").
The position is the one that needs editing: for a quote or bracket never closed, where it opens.
"""

from __future__ import annotations

import re

import yaml

_FOUND = re.compile(r"but found '(?P<token>[^']*)'")
_CHARACTER = re.compile(r"found character '(?P<char>.+)' that cannot start any token")
_ESCAPE = re.compile(r"found unknown escape character '?(?P<char>[^']*)'?")


def _line(source: str, mark: yaml.Mark | None) -> str:
    if mark is None:
        return ""
    lines = source.splitlines()
    return lines[mark.line] if mark.line < len(lines) else ""


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _where(mark: yaml.Mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _above(source: str, line: int) -> str:
    """The nearest line before line (0-based) that holds something: not blank, not only a comment."""
    lines = source.splitlines()
    for text in reversed(lines[:line]):
        if text.strip() and not text.lstrip().startswith("#"):
            return text
    return ""


def _key_column(text: str) -> int:
    """1-based column where the key of a line starts (after any '- ' list markers)."""
    column = _indent(text)
    while text[column:column + 2] == "- ":
        column += 2 + _indent(text[column + 2:])
    return column + 1


def _block_end(exc: yaml.MarkedYAMLError, source: str) -> str:
    """`expected <block end>, but found …`: something at an indentation its block does not allow."""
    problem = exc.problem_mark
    token = (_FOUND.search(exc.problem or "") or {"token": ""})["token"]
    text = _line(source, problem)
    column = problem.column + 1 if problem else 0
    above = _above(source, problem.line) if problem else ""
    if token == "<scalar>" and text[:column - 1].rstrip().endswith(("'", '"')):
        return (f"text follows the closing quote of a quoted value; put all of the value inside the quotes "
                f"(seen: {text.strip()!r})")
    if token in ("<block sequence start>", "-"):
        return (f"this list item ('-' at column {column}) is indented differently from the lines above it (column "
                f"{_indent(above) + 1}); line its '-' up with the items of its list, or put the list under a key")
    return (f"this line is indented differently from the keys above it: it starts at column {column}, the line "
            f"above at column {_key_column(above)}; line it up with the keys it belongs with (YAML groups keys "
            "by their indentation, in spaces)")


def _dash_without_space(exc: yaml.MarkedYAMLError, source: str) -> tuple[int, int, str] | None:
    """`-name: a` meant as a list item: the line (1-based), column and message, when the error follows one."""
    problem = exc.problem_mark
    if problem is None or not ("expected <block end>" in (exc.problem or "")
                               or exc.problem == "mapping values are not allowed here"):
        return None
    lines = source.splitlines()
    above = next((index for index in range(problem.line - 1, -1, -1)
                  if lines[index].strip() and not lines[index].lstrip().startswith("#")), None)
    for index in (problem.line, above):  # the line the parser stopped at, then the one before it
        text = lines[index] if index is not None and index < len(lines) else ""
        if re.match(r"\s*-[A-Za-z_]", text):
            word = text.strip().split()[0]
            return (index + 1, _indent(text) + 1, f"no space after this '-' ({word!r}), so it is read as a key, "
                    f"not a list item; write '- {word[1:]}'")
    return None


def _quote_running_on(exc: yaml.MarkedYAMLError, source: str) -> tuple[int, int, str] | None:
    """A quote left open on an earlier line runs on to a later quote, and the error follows on that line:
    the location and message of the quote that was probably never closed."""
    problem = exc.problem_mark
    if problem is None:
        return None
    last = None
    try:
        for token in yaml.scan(source):
            if token.start_mark.index >= problem.index:
                break
            if isinstance(token, yaml.ScalarToken) and token.style in ("'", '"'):
                last = token
    except yaml.YAMLError:
        pass  # the scan stops at the same error; the tokens before it are what counts
    if last is None or last.start_mark.line == last.end_mark.line or last.end_mark.line != problem.line:
        return None
    quote = last.style
    return (last.start_mark.line + 1, last.start_mark.column + 1,
            f"the quoted value that opens here with {quote} runs on to line {last.end_mark.line + 1}, column "
            f"{last.end_mark.column}; the closing {quote} is probably missing on this line")


def _mapping_values(exc: yaml.MarkedYAMLError, source: str) -> str:
    """`mapping values are not allowed here`: a ': ' where no key may start."""
    problem = exc.problem_mark
    text = _line(source, problem)
    first_colon = text.find(": ") if text.find(": ") >= 0 else text.find(":")
    if problem is not None and 0 <= first_colon < problem.column:
        value = text[first_colon + 1:].strip()
        return (f"a second ': ' on this line: a value that contains ': ' must be quoted, e.g. "
                f"{text[:first_colon + 1].strip()} \"{value}\"")
    above = _above(source, problem.line) if problem else ""
    return (f"this line is indented more (column {_indent(text) + 1}) than the key above it (column "
            f"{_key_column(above)}), which already has a value; line it up with the keys it belongs with (or, if "
            "it continues that value, quote the value)")


def explain_yaml_error(exc: yaml.MarkedYAMLError, source: str) -> tuple[int | None, int | None, str]:
    """(line, column, message) for a PyYAML syntax error in source: 1-based, and a plain sentence.

    Known mistakes (indentation, tabs, ': ' in a value, quotes and brackets never closed, a key without ':',
    backslashes in double quotes, reserved characters, lists on a key's line) are explained with their fix;
    anything else keeps PyYAML's own words.
    """
    problem_text = exc.problem or ""
    context_text = exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    message = problem_text or str(exc)
    for explained in (_dash_without_space(exc, source), _quote_running_on(exc, source)):
        if explained is not None:
            return explained
    if "expected <block end>" in problem_text:
        message = _block_end(exc, source)
    elif problem_text == "mapping values are not allowed here":
        message = _mapping_values(exc, source)
        if message.startswith("this line is indented more") and exc.problem_mark is not None:
            text = _line(source, exc.problem_mark)
            return exc.problem_mark.line + 1, _indent(text) + 1, message
    elif match := _CHARACTER.search(problem_text):
        char = match["char"]
        if char == "\\t":
            message = "a tab character: YAML indents with spaces only; replace the tab with spaces"
        else:
            message = (f"{char!r} cannot start a value (it is reserved in YAML); put the value in quotes, "
                       f"e.g. '{_line(source, exc.problem_mark).strip().partition(': ')[2] or char + '…'}'")
    elif "quoted scalar" in context_text and "end of stream" in problem_text:
        mark = exc.context_mark or mark
        quote = _line(source, mark)[mark.column] if mark and mark.column < len(_line(source, mark)) else '"'
        message = (f"the quoted value that opens here with {quote} is never closed; add the closing {quote} "
                   "(inside double quotes write \\\" for a quote, inside single quotes '')")
    elif "flow sequence" in context_text or "flow mapping" in context_text:
        opener, closer = ("[", "]") if "sequence" in context_text else ("{", "}")
        if exc.context_mark and exc.problem_mark and exc.problem_mark.line > exc.context_mark.line:
            message = (f"the '{opener}' that opens here is not closed before {_where(exc.problem_mark)}; add the "
                       f"'{closer}' (and a comma between items)")
            mark = exc.context_mark
        else:
            message = f"expected ',' or '{closer}' here, inside the '{opener}…{closer}' that opens earlier on the line"
    elif "could not find expected ':'" in problem_text:
        mark = exc.context_mark or mark
        message = ("this line has no ': ' after its key; write 'key: value' (or, if it continues the value above, "
                   "indent it further or quote that value)")
    elif (match := _ESCAPE.search(problem_text)) and exc.problem_mark is not None:
        mark = exc.problem_mark
        mark = yaml.Mark(mark.name, mark.index - 1, mark.line, mark.column - 1, None, None)  # at the backslash
        message = (f"inside double quotes a backslash starts an escape, and '\\{match['char']}' is not one; write the "
                   "value in single quotes (where a backslash is an ordinary character) or double the backslash")
    elif "sequence entries are not allowed here" in problem_text:
        message = ("a list item '- ' on the same line as its key; start the list on the next line, indented, "
                   "or write it in brackets: key: [a, b]")
    elif "found undefined alias" in problem_text:
        name = problem_text.split("alias ", 1)[1].strip("'")
        message = (f"*{name} refers to an anchor &{name} that is not defined above it; if the '*' is meant "
                   "literally, quote the value")
    elif "block scalar" in context_text:
        message = ("after '|' or '>' only '+', '-' or an indentation number may follow on the same line; put the "
                   "text on the next lines, indented")
    elif "found unhashable key" in problem_text:
        message = "a key that is a list or a mapping; keys must be plain words"
    line = mark.line + 1 if mark else None
    column = mark.column + 1 if mark else None
    return line, column, message

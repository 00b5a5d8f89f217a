"""Hostile PDFs: bounded reading of embedded files, and removal of what PDF/A-3 forbids.

- Embedded files are read one at a time against a budget: at most MAX_FILES files and
  MAX_TOTAL_BYTES decompressed in all (a 2 MB PDF can hold gigabytes of compressed zeros),
  with pypdf's own per-stream cap under it. A file specification without /EF (no stream) is
  skipped, not a crash.
- ISO 19005-3 6.6 forbids JavaScript, Launch and other actions, and additional-actions (/AA)
  dictionaries in the catalog, pages and annotations: `strip_active_content` removes them from
  the supplier's PDF before it becomes the Factur-X that is sent, and says what it removed."""
from __future__ import annotations

from typing import Any

from ..errors import RejectedInput

MAX_FILES = 50
MAX_TOTAL_BYTES = 50 * 1024 * 1024
# PDF/A-3 (ISO 19005-3 6.6.1): action types that may stay; everything else is removed
ALLOWED_ACTIONS = frozenset({"/GoTo", "/GoToR", "/GoToE", "/Thread", "/URI", "/Named", "/SetOCGState"})
ALLOWED_NAMED = frozenset({"/NextPage", "/PrevPage", "/FirstPage", "/LastPage"})


def embedded_files(reader, *, max_files: int = MAX_FILES, budget: int = MAX_TOTAL_BYTES) -> dict[str, bytes]:
    """{name: content} of the PDF's embedded files (the EmbeddedFiles name tree), within limits."""
    root = reader.trailer["/Root"].get_object()
    names = root.get("/Names")
    tree = names.get_object().get("/EmbeddedFiles") if names is not None else None
    if tree is None:
        return {}
    pairs: list[tuple[str, Any]] = []
    _walk(tree.get_object(), pairs, depth=0, max_files=max_files)
    out: dict[str, bytes] = {}
    total = 0
    for name, spec in pairs:
        spec = spec.get_object()
        ef = spec.get("/EF") if hasattr(spec, "get") else None
        if ef is None:
            continue  # a file specification without an embedded stream: nothing to read
        ef = ef.get_object()
        stream = (ef.get("/UF") or ef.get("/F"))
        if stream is None:
            continue
        stream = stream.get_object()
        params = stream.get("/Params")
        declared = params.get_object().get("/Size") if params is not None else None
        if isinstance(declared, int) and total + declared > budget:
            raise _over(budget)
        data = stream.get_data()
        total += len(data)
        if total > budget:
            raise _over(budget)
        out[str(spec.get("/UF") or spec.get("/F") or name)] = data
    return out


def _over(budget: int) -> RejectedInput:
    return RejectedInput(f"the PDF's embedded files decompress to more than {budget // (1024 * 1024)} MB",
                         code="pdf_too_large_inflated")


def _walk(node, pairs: list, *, depth: int, max_files: int) -> None:
    if depth > 10:
        raise RejectedInput("the PDF's embedded-file tree is nested too deeply", code="pdf_corrupt")
    leaves = node.get("/Names")
    if leaves is not None:
        leaves = leaves.get_object()
        for i in range(0, len(leaves) - 1, 2):
            pairs.append((str(leaves[i]), leaves[i + 1]))
            if len(pairs) > max_files:
                raise RejectedInput(f"the PDF embeds more than {max_files} files", code="pdf_too_many_files")
    for kid in (node.get("/Kids") or []):
        _walk(kid.get_object(), pairs, depth=depth + 1, max_files=max_files)


def has_active_content(reader) -> bool:
    """Whether `strip_active_content` would remove anything (read-only: no copy of the PDF)."""
    root = reader.trailer["/Root"].get_object()
    names = root.get("/Names")
    if "/AA" in root or (names is not None and "/JavaScript" in names.get_object()):
        return True
    action = root.get("/OpenAction")
    if action is not None and hasattr(action.get_object(), "get") and not _allowed(action.get_object()):
        return True
    acroform = root.get("/AcroForm")
    if acroform is not None and "/XFA" in acroform.get_object():
        return True
    for page in reader.pages:
        if "/AA" in page:
            return True
        for annot in page.get("/Annots") or []:
            a = annot.get_object()
            act = a.get("/A")
            if "/AA" in a or (act is not None and not _allowed(act.get_object())):
                return True
    return False


def strip_active_content(writer) -> list[str]:
    """Remove JavaScript, Launch and other forbidden actions and every /AA from a PdfWriter's
    document; returns what was removed (for the invoice's timeline)."""
    removed: list[str] = []
    root = writer._root_object
    names = root.get("/Names")
    if names is not None and "/JavaScript" in names.get_object():
        del names.get_object()["/JavaScript"]
        removed.append("document JavaScript")
    for key in ("/AA",):
        if key in root:
            del root[key]
            removed.append("document additional actions")
    action = root.get("/OpenAction")
    if action is not None and hasattr(action.get_object(), "get") and not _allowed(action.get_object()):
        del root["/OpenAction"]
        removed.append(f"open action {action.get_object().get('/S')}")
    acroform = root.get("/AcroForm")
    if acroform is not None and "/XFA" in acroform.get_object():
        del acroform.get_object()["/XFA"]
        removed.append("XFA form")
    for n, page in enumerate(writer.pages, 1):
        if "/AA" in page:
            del page["/AA"]
            removed.append(f"page {n} additional actions")
        for annot in page.get("/Annots") or []:
            a = annot.get_object()
            if "/AA" in a:
                del a["/AA"]
                removed.append(f"page {n} annotation additional actions")
            act = a.get("/A")
            if act is not None and not _allowed(act.get_object()):
                del a["/A"]
                removed.append(f"page {n} annotation action {act.get_object().get('/S')}")
    if removed:  # the removed objects must not be written out as orphans either
        writer.compress_identical_objects(remove_duplicates=False, remove_unreferenced=True)
    return removed


def _allowed(action) -> bool:
    kind = action.get("/S")
    if kind not in ALLOWED_ACTIONS:
        return False
    if kind == "/Named" and action.get("/N") not in ALLOWED_NAMED:
        return False
    nxt = action.get("/Next")  # chained actions are checked too
    if nxt is None:
        return True
    nxt = nxt.get_object()
    chain = nxt if isinstance(nxt, list) else [nxt]
    return all(_allowed(x.get_object()) for x in chain)

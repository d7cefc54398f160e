"""Text of PDF files through pypdf."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.content.errors import IntakeCancelled, IntakeError

MAX_PAGES = 2000


@dataclass(frozen=True, slots=True)
class PdfText:
    text: str
    pages: list[str]
    page_count: int
    truncated: bool = False


def extract_pdf_text(path: Path, max_pages: int = MAX_PAGES, *,
                     on_page: Callable[[int, int], None] | None = None,
                     should_cancel: Callable[[], bool] | None = None) -> PdfText:
    """Text of each page. Not a PDF, encrypted or corrupt raises ``IntakeError``.
    ``on_page(done, total)`` after each page; ``should_cancel`` is asked before each page
    (a true answer raises ``IntakeCancelled``)."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            head = stream.read(1024)
    except OSError as exc:
        raise IntakeError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    if b"%PDF-" not in head:
        raise IntakeError(f"{path.name} is not a PDF file (no %PDF- header)")
    # Imported here: pypdf takes ~90 ms to import, which the app's start-up does not need.
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception as exc:
                raise IntakeError(f"{path.name} is an encrypted PDF that cannot be opened here ({exc})") from exc
            if not opened:
                raise IntakeError(f"{path.name} is an encrypted PDF: it needs a password")
        count = len(reader.pages)
        todo = min(count, max_pages)
        pages: list[str] = []
        for i in range(todo):
            if should_cancel is not None and should_cancel():
                raise IntakeCancelled(f"cancelled after {i} of {todo} pages")
            pages.append(reader.pages[i].extract_text() or "")
            if on_page is not None:
                on_page(i + 1, todo)
    except IntakeError:
        raise
    except FileNotDecryptedError as exc:
        raise IntakeError(f"{path.name} is an encrypted PDF: it needs a password") from exc
    except PdfReadError as exc:
        raise IntakeError(f"{path.name} is a corrupt PDF: {exc}") from exc
    except Exception as exc:  # pypdf raises assorted errors on damaged files
        raise IntakeError(f"{path.name} is a corrupt PDF ({exc.__class__.__name__}: {exc})") from exc
    return PdfText("\n\n".join(p.strip() for p in pages).strip(), pages, count, count > max_pages)

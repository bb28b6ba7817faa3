from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader

from uise_contracts.events import FormListApproved
from uise_contracts.examples import SCHOOL_FORM
from uise_registry import printing
from uise_registry.catalog import CATALOG, OSH_1


def approved(**kw) -> FormListApproved:
    base = dict(year=2026, version=2, order_no="412", order_date=date(2026, 1, 15),
                forms=[*CATALOG, SCHOOL_FORM], signatory="Министр просвещения", supersedes_version=1)
    return FormListApproved(**{**base, **kw})


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_list_prints_with_codes_order_and_cyrillic_titles():
    pdf = printing.formlist_pdf(approved())
    assert pdf.startswith(b"%PDF")
    text = text_of(pdf)
    for form in [*CATALOG, SCHOOL_FORM]:
        assert form.code in text
    assert "№ 412" in text and "15.01.2026" in text
    assert "Перечень форм" in text and "на 2026 год" in text
    assert "тізбесі" in text  # Kazakh letters survive the embedded font
    assert "Годовой отчёт" in text
    assert "Министр просвещения" in text


def test_many_forms_spill_onto_more_pages_with_the_header_repeated():
    forms = [OSH_1.model_copy(update={"code": f"OSH-{n}"}) for n in range(1, 41)]
    pdf = printing.formlist_pdf(approved(forms=forms, signatory=None, supersedes_version=None))
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) > 1
    assert all("Код формы" in page.extract_text() for page in reader.pages)
    assert "OSH-40" in text_of(pdf)


def test_a_missing_font_names_the_package_to_install(monkeypatch, tmp_path):
    from uise_common import pdffonts

    monkeypatch.setattr(pdffonts, "_font_candidates", lambda: [tmp_path / "none.ttf"])
    with pytest.raises(printing.FontNotFound, match="fonts-dejavu-core"):
        printing.find_font()

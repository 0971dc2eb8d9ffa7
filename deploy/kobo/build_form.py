"""Build recoop_weighing.xlsx, the XLSForm collectors fill in KoboToolbox."""

# Run from the repository root: `.venv/bin/python deploy/kobo/build_form.py`.
# openpyxl is a build tool only (`pip install openpyxl`), not a project dependency.
# Question names are the submission keys service/kobo.py reads: rename one in both.

from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).with_name("recoop_weighing.xlsx")
EN = "English (en)"
CODE_ALPHABET = "ACDEFHJKMNPQRTVWXY234679"  # service/domain/sms_parser.py

SURVEY_HEADER = (
    "type",
    "name",
    f"label::{EN}",
    f"hint::{EN}",
    "required",
    "constraint",
    f"constraint_message::{EN}",
    "default",
    "appearance",
)
# XPath regex() has no case-insensitive flag, so both cases are spelled out.
_LOWER = "".join(ch.lower() for ch in CODE_ALPHABET if ch.isalpha())
CODE_PATTERN = f"^[{CODE_ALPHABET}{_LOWER}]{{4,6}}$"
SURVEY = (
    ("start", "start", "", "", "", "", "", "", ""),
    ("end", "end", "", "", "", "", "", "", ""),
    (
        "text",
        "pickup_code",
        "Pickup code",
        "4 to 6 characters from the household's SMS, e.g. K7Q2; "
        "upper or lower case both work",
        "yes",
        f"regex(., '{CODE_PATTERN}')",
        "A pickup code has 4 to 6 characters: letters and digits "
        "without 0, O, 1, I, L, 5, S, 8, B, U, Z or G",
        "",
        "",
    ),
    ("begin_repeat", "items", "Materials weighed", "", "", "", "", "", ""),
    (
        "select_one materials",
        "material",
        "Material",
        "",
        "yes",
        "",
        "",
        "",
        "",
    ),
    (
        "decimal",
        "kg",
        "Weight (kg)",
        "Scale reading in kilograms, e.g. 2.5",
        "yes",
        ". > 0 and . <= 1000",
        "The weight must be above 0 and at most 1000 kg",
        "",
        "",
    ),
    ("end_repeat", "items", "", "", "", "", "", "", ""),
    (
        "geopoint",
        "location",
        "Household location",
        "Stand at the household's door; skip if there is no GPS fix",
        "",
        "",
        "",
        "",
        "",
    ),
    (
        "dateTime",
        "collected_at",
        "Collected at",
        "Set when the form is opened; change it only when entering a past weighing",
        "yes",
        "",
        "",
        "now()",  # a dynamic default, set once when the form is first opened
        "",
    ),
)

CHOICES_HEADER = ("list_name", "name", f"label::{EN}")
CHOICES = (
    ("materials", "PET", "PET bottles"),
    ("materials", "HDPE", "HDPE containers (jerrycans, detergent bottles)"),
    ("materials", "ALU", "Aluminium cans"),
    ("materials", "SACHET", "Water sachets (LDPE)"),
    ("materials", "GLASS", "Glass bottles"),
)

SETTINGS_HEADER = ("form_title", "form_id", "version", "default_language")
SETTINGS = (("Recoop weighing", "recoop_weighing", "2024120101", EN),)


def build(out: Path = OUT) -> Path:
    """Write the XLSForm with its three sheets and return its path.

    Parameters
    ----------
    out
        Where to write the workbook.

    Returns
    -------
    Path
        ``out``.
    """
    from openpyxl import Workbook  # imported here so the rows load without it

    book = Workbook()
    sheets = (
        ("survey", SURVEY_HEADER, SURVEY),
        ("choices", CHOICES_HEADER, CHOICES),
        ("settings", SETTINGS_HEADER, SETTINGS),
    )
    for index, (title, header, rows) in enumerate(sheets):
        sheet = book.worksheets[0] if index == 0 else book.create_sheet()
        sheet.title = title
        sheet.append(header)
        for row in rows:
            sheet.append([cell or None for cell in row])  # blank, not "", cells
    book.save(out)
    return out


if __name__ == "__main__":
    print(build())

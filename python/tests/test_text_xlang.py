"""Cross-language TextVault file (tests/conformance/texts.json, case "xlang").

With KV_XLANG_DIR set, writes $KV_XLANG_DIR/python-texts.db (table "txt_xlang", the case's
documents) through the facade and checks the case's queries on every other <lang>-texts.db
present there (opened read-only). KV_XLANG_REQUIRE=rust,kotlin,... makes missing files
failures instead of skips.
"""

import os

import pytest
from test_text import run_text_case

from conftest import load_conformance

DIR = os.environ.get("KV_XLANG_DIR")
REQUIRE = {x.strip() for x in os.environ.get("KV_XLANG_REQUIRE", "").split(",") if x.strip()}
OTHERS = ["rust", "kotlin", "swift"]
TABLE = "txt_xlang"

pytestmark = pytest.mark.skipif(not DIR, reason="KV_XLANG_DIR is not set")


def _case():
    return next(c for c in load_conformance("texts.json")["cases"] if c["name"] == "xlang")


def test_write_python_texts():
    os.makedirs(DIR, exist_ok=True)
    path = os.path.join(DIR, "python-texts.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    run_text_case(_case(), path, write=True, table=TABLE)
    # What we wrote reads back through a fresh read-only handle too.
    run_text_case(_case(), path, write=False, table=TABLE)


@pytest.mark.parametrize("lang", OTHERS)
def test_read_other_language_texts(lang):
    path = os.path.join(DIR, f"{lang}-texts.db")
    if not os.path.exists(path):
        if lang in REQUIRE:
            pytest.fail(f"{path} is missing (required by KV_XLANG_REQUIRE)")
        pytest.skip(f"{lang} has not written {path}")
    run_text_case(_case(), path, write=False, table=TABLE)

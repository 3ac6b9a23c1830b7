import pytest

from zsl_utils.report import KEY_RESULT_TAG, find_key_result, key_result


def test_key_result_prints_one_tagged_line(capsys):
    line = key_result("ZSL accuracy 0.512")
    assert capsys.readouterr().out == f"{KEY_RESULT_TAG} ZSL accuracy 0.512\n"
    assert find_key_result(["other", line]) == "ZSL accuracy 0.512"


def test_find_key_result_takes_the_last_or_none():
    assert find_key_result([f"{KEY_RESULT_TAG} a", f"{KEY_RESULT_TAG} b"]) == "b"
    assert find_key_result(["nothing here"]) is None


@pytest.mark.parametrize("text", ["", "   ", "two\nlines"])
def test_key_result_rejects_empty_or_multiline(text):
    with pytest.raises(ValueError, match="one non-empty line"):
        key_result(text)

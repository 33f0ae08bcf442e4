"""Tests for yigongti.residents.rules (pure Python, no database)."""

from __future__ import annotations

import hashlib
import hmac
import pickle
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from yigongti.residents import rules
from yigongti.residents.rules import (
    ParsedId,
    QrScan,
    RuleError,
    check_id_agrees,
    derive_card_id,
    derive_local_card_id,
    dynamic_qr_text,
    id_check_char,
    looks_like_qr_text,
    make_id_number,
    mask_id_number,
    mask_phone,
    name_search_keys,
    normalize_card_id,
    normalize_id_number,
    normalize_name,
    normalize_phone,
    parse_id_number,
    parse_qr_text,
    static_qr_text,
    validate_name,
    validate_phone,
)

TODAY = date(2025, 6, 1)
BEIJING = timezone(timedelta(hours=8))


def _check(first17: str) -> str:
    """Independent re-statement of GB 11643: weight 2**(17-i) mod 11, map (12 - s) mod 11."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def _valid(first17: str) -> str:
    return first17 + _check(first17)


# 410101 1990-05-12 sequence 123 (odd, male); 410101 1985-11-30 sequence 246 (even, female)
MALE = _valid("41010119900512123")
FEMALE = _valid("41010119851130246")
# The standard's published sample: female, born 1949-12-31, check character X.
SAMPLE_X = "11010519491231002X"


def _wrong_check(number: str) -> str:
    other = "0" if number[17] != "0" else "1"
    return number[:17] + other


# --- RuleError ---------------------------------------------------------------


def test_rule_error_fields_str_and_pickle() -> None:
    err = RuleError("name", "required", "请填写姓名", "Name is required")
    assert isinstance(err, ValueError)
    assert (err.field, err.code, err.msg_zh, err.msg_en) == (
        "name",
        "required",
        "请填写姓名",
        "Name is required",
    )
    assert str(err) == "请填写姓名"
    back = pickle.loads(pickle.dumps(err))  # noqa: S301 - round trip of our own object
    assert (back.field, back.code, back.msg_zh, back.msg_en) == (
        err.field,
        err.code,
        err.msg_zh,
        err.msg_en,
    )


# --- check character ---------------------------------------------------------


def test_constants() -> None:
    assert rules.ID_WEIGHTS == (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    assert rules.ID_CHECK_CHARS == "10X98765432"


@pytest.mark.parametrize(
    ("first17", "expected"),
    [
        ("11010519491231002", "X"),  # worked by hand: sum 167, 167 % 11 = 2 -> X
        ("44052418800101001", "4"),  # worked by hand: sum 195, 195 % 11 = 8 -> 4
        ("41010119900512123", _check("41010119900512123")),
        ("00000000000000000", "1"),
    ],
)
def test_id_check_char(first17: str, expected: str) -> None:
    assert id_check_char(first17) == expected


def test_id_check_char_agrees_with_independent_helper() -> None:
    for n in range(0, 10**17, 10**17 // 997):
        first17 = f"{n:017d}"
        assert id_check_char(first17) == _check(first17)


@pytest.mark.parametrize("bad", ["", "1234", "1101051949123100", "1101051949123100Z", "１" * 17])
def test_id_check_char_rejects_non_17_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="17"):
        id_check_char(bad)


# --- normalisation -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("11010519491231002x", SAMPLE_X),
        ("１１０１０５１９４９１２３１００２Ｘ", SAMPLE_X),
        ("１１０１０５１９４９１２３１００２ｘ", SAMPLE_X),
        (" 1101 0519 4912 3100 2X ", SAMPLE_X),
        ("110105\u300019491231\t002X\n", SAMPLE_X),
        ("11010519491231002Y", "11010519491231002Y"),  # unknown characters stay
        ("1101051949-1231002X", "1101051949-1231002X"),
    ],
)
def test_normalize_id_number(raw: str, expected: str) -> None:
    assert normalize_id_number(raw) == expected


# --- parse_id_number: valid ---------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "number", "birth", "sex"),
    [
        (MALE, MALE, date(1990, 5, 12), "1"),
        (FEMALE, FEMALE, date(1985, 11, 30), "2"),
        (SAMPLE_X, SAMPLE_X, date(1949, 12, 31), "2"),
        ("11010519491231002x", SAMPLE_X, date(1949, 12, 31), "2"),
        ("１１０１０５１９４９１２３１００２Ｘ", SAMPLE_X, date(1949, 12, 31), "2"),
        ("4101 0119 9005 12" + MALE[14:], MALE, date(1990, 5, 12), "1"),
        (_valid("41010120250601001"), _valid("41010120250601001"), TODAY, "1"),  # born today
        (_valid("41010119000101002"), _valid("41010119000101002"), date(1900, 1, 1), "2"),
        (_valid("41010120000229007"), _valid("41010120000229007"), date(2000, 2, 29), "1"),
    ],
)
def test_parse_id_number_valid(raw: str, number: str, birth: date, sex: str) -> None:
    parsed = parse_id_number(raw, today=TODAY)
    assert parsed == ParsedId(number=number, address_code=number[:6], birth_date=birth, sex=sex)


# --- parse_id_number: invalid -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code", "zh_fragment"),
    [
        (_wrong_check(MALE), "checksum", "校验位错误"),
        (_wrong_check(SAMPLE_X), "checksum", "校验位错误"),
        ("110105194912310021", "checksum", "校验位错误"),
        (_valid("41010119990230123"), "birth_date", "出生日期无效"),  # 1999-02-30
        (_valid("41010119991301123"), "birth_date", "出生日期无效"),  # month 13
        (_valid("41010119990100123"), "birth_date", "出生日期无效"),  # day 0
        (_valid("41010119000229123"), "birth_date", "出生日期无效"),  # 1900 is not leap
        ("440524188001010014", "birth_date", "出生日期无效"),  # valid check, born 1880
        (_valid("41010120991231123"), "future", "晚于今天"),
        (_valid("41010120250602123"), "future", "晚于今天"),  # tomorrow
        (MALE[:17], "length", "应为18位，当前为17位"),
        (MALE + "1", "length", "应为18位，当前为19位"),
        ("", "length", "当前为0位"),
        ("410101900512123", "length", "15位"),  # first-generation number
        ("4101019005121AB", "length", "应为18位，当前为15位"),
        ("4101011990A512123X", "chars", "只能包含数字"),
        ("41010119900512123Y", "chars", "只能包含数字"),
        ("X10101199005121234", "chars", "只能包含数字"),
        ("4101011990-0512123", "chars", "只能包含数字"),
        ("41010119900512123\u00b2", "chars", "只能包含数字"),  # superscript two
    ],
)
def test_parse_id_number_invalid(raw: str, code: str, zh_fragment: str) -> None:
    with pytest.raises(RuleError) as info:
        parse_id_number(raw, today=TODAY)
    err = info.value
    assert (err.field, err.code) == ("doc_number", code)
    assert zh_fragment in err.msg_zh
    assert err.msg_zh.startswith("身份证号")
    assert err.msg_en.startswith("ID number")


def test_checksum_message_does_not_reveal_right_character() -> None:
    bad = _wrong_check(MALE)
    with pytest.raises(RuleError) as info:
        parse_id_number(bad, today=TODAY)
    assert info.value.msg_zh == "身份证号校验位错误，请核对号码"
    assert info.value.msg_en == "ID number check character is wrong; please check the number"
    assert MALE[17] not in info.value.msg_zh + info.value.msg_en


def test_old_fifteen_digit_message() -> None:
    with pytest.raises(RuleError) as info:
        parse_id_number("410101900512123", today=TODAY)
    assert info.value.code == "length"
    assert "请换算为18位" in info.value.msg_zh
    assert "15-digit" in info.value.msg_en


# --- check_id_agrees ----------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "birth", "sex", "expected"),
    [
        (MALE, date(1990, 5, 12), "1", []),
        (MALE, None, None, []),
        (MALE, None, "0", []),
        (MALE, None, "9", []),
        (MALE, None, "", []),
        (FEMALE, date(1985, 11, 30), "2", []),
        (MALE, date(1990, 5, 13), "1", [("birth_date", "mismatch")]),
        (MALE, None, "2", [("sex", "mismatch")]),
        (FEMALE, date(1985, 11, 30), "1", [("sex", "mismatch")]),
        (FEMALE, date(1958, 11, 30), "1", [("birth_date", "mismatch"), ("sex", "mismatch")]),
    ],
)
def test_check_id_agrees(
    number: str, birth: date | None, sex: str | None, expected: list[tuple[str, str]]
) -> None:
    parsed = parse_id_number(number, today=TODAY)
    errors = check_id_agrees(parsed, birth_date=birth, sex=sex)
    assert [(e.field, e.code) for e in errors] == expected


def test_check_id_agrees_messages_name_the_number_value() -> None:
    parsed = parse_id_number(FEMALE, today=TODAY)
    birth_err, sex_err = check_id_agrees(parsed, birth_date=date(1985, 1, 1), sex="1")
    assert birth_err.msg_zh == "出生日期与身份证号不一致（号码中为1985-11-30）"
    assert "1985-11-30" in birth_err.msg_en
    assert sex_err.msg_zh == "性别与身份证号不一致（号码中为女）"
    assert "female" in sex_err.msg_en


def test_check_id_agrees_unknown_sex_code_is_a_programming_error() -> None:
    parsed = parse_id_number(MALE, today=TODAY)
    with pytest.raises(ValueError, match="sex"):
        check_id_agrees(parsed, birth_date=None, sex="M")


# --- make_id_number -----------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "birth"),
    [
        ("410101", date(1990, 5, 12)),
        ("410928", date(1900, 1, 1)),
        ("650102", date(2000, 2, 29)),
        ("110105", date(1949, 12, 31)),
        ("411681", TODAY),
    ],
)
def test_make_id_number_round_trips(address: str, birth: date) -> None:
    for sequence in range(1000):
        number = make_id_number(address, birth, sequence)
        assert len(number) == 18
        assert number[:17] == f"{address}{birth:%Y%m%d}{sequence:03d}"
        assert number[17] == _check(number[:17])
        parsed = parse_id_number(number, today=TODAY)
        assert parsed == ParsedId(
            number=number,
            address_code=address,
            birth_date=birth,
            sex="1" if sequence % 2 else "2",
        )


def test_make_id_number_known_value() -> None:
    assert make_id_number("110105", date(1949, 12, 31), 2) == SAMPLE_X


@pytest.mark.parametrize(
    ("address", "birth", "sequence"),
    [
        ("41010", date(1990, 1, 1), 1),
        ("41010A", date(1990, 1, 1), 1),
        ("410101", date(1990, 1, 1), -1),
        ("410101", date(1990, 1, 1), 1000),
        ("410101", date(1899, 12, 31), 1),
    ],
)
def test_make_id_number_rejects_bad_input(address: str, birth: date, sequence: int) -> None:
    with pytest.raises(ValueError):
        make_id_number(address, birth, sequence)


# --- names --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  张伟  ", "张伟"),
        ("张 伟", "张伟"),
        ("张\u3000伟", "张伟"),
        ("John   Smith", "John Smith"),
        ("Ｊｏｈｎ Ｓｍｉｔｈ", "John Smith"),
        ("阿卜杜・买买提", "阿卜杜·买买提"),  # katakana middle dot
        ("阿卜杜•买买提", "阿卜杜·买买提"),  # bullet
        ("阿卜杜‧买买提", "阿卜杜·买买提"),  # hyphenation point
        ("阿卜杜·买买提", "阿卜杜·买买提"),  # already U+00B7
        ("阿卜杜 · 买买提", "阿卜杜·买买提"),
        ("阿卜杜.买买提", "阿卜杜·买买提"),
        ("阿卜杜。买买提", "阿卜杜·买买提"),
    ],
)
def test_normalize_name(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张伟", "张伟"),
        (" 欧阳娜娜 ", "欧阳娜娜"),
        ("阿卜杜・买买提", "阿卜杜·买买提"),
        ("热依拉•阿不都热合曼", "热依拉·阿不都热合曼"),
        ("John Smith", "John Smith"),
        ("José García", "José García"),
        ("𠇔伟", "𠇔伟"),  # CJK extension B character
        ("张" * 30, "张" * 30),
    ],
)
def test_validate_name_ok(raw: str, expected: str) -> None:
    assert validate_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "required"),
        ("   ", "required"),
        ("\u3000\t", "required"),
        ("张" * 31, "too_long"),
        ("张" * 50, "too_long"),
        ("张伟2", "chars"),
        ("张伟２", "chars"),
        ("张伟!", "chars"),
        ("张-伟", "chars"),
        ("O'Brien", "chars"),
        ("·阿卜杜", "chars"),
        ("阿卜杜·", "chars"),
        ("阿卜杜··买买提", "chars"),
        ("李 John", "chars"),
    ],
)
def test_validate_name_invalid(raw: str, code: str) -> None:
    with pytest.raises(RuleError) as info:
        validate_name(raw)
    assert (info.value.field, info.value.code) == ("name", code)
    assert "姓名" in info.value.msg_zh
    assert "Name" in info.value.msg_en


def test_validate_name_too_long_message_counts() -> None:
    with pytest.raises(RuleError) as info:
        validate_name("张" * 31)
    assert info.value.msg_zh == "姓名不能超过30个字，当前为31个"
    assert rules.NAME_MAX_LEN == 30


# --- phones -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        (" 138 1234 5678 ", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("(+86)138-1234-5678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("０３７１－７６５４３２１", "03717654321"),
        ("0371-7654321", "03717654321"),
        ("(0371)76543210", "037176543210"),
        ("010-12345678", "01012345678"),
        ("+86 10 1234 5678", "01012345678"),
        ("+86 371 7654 321", "03717654321"),
        ("", ""),
    ],
)
def test_normalize_phone(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("   ", ""),
        ("13812345678", "13812345678"),
        ("19912345678", "19912345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("0371-7654321", "03717654321"),
        ("03717654321", "03717654321"),
        ("0371-76543210", "037176543210"),
        ("010-12345678", "01012345678"),
        ("021 87654321", "02187654321"),
    ],
)
def test_validate_phone_ok(raw: str, expected: str) -> None:
    assert validate_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "1381234567",  # 10-digit mobile
        "138123456789",  # 12-digit mobile
        "12812345678",  # 12x prefix
        "11812345678",
        "23812345678",
        "0371-765432",  # local part too short
        "010-1234567",  # Beijing numbers have 8 digits
        "0371-765432100",
        "13812345678 ext 12",
        "1381234567a",
        "+1 415 555 0100",
    ],
)
def test_validate_phone_invalid(raw: str) -> None:
    with pytest.raises(RuleError) as info:
        validate_phone(raw)
    assert (info.value.field, info.value.code) == ("phone", "format")
    assert "电话号码" in info.value.msg_zh
    assert "Phone" in info.value.msg_en


# --- masking ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("410101199005121234", "410101********1234"),
        (SAMPLE_X, "110105********002X"),
        ("E12345678", "E1*****78"),
        ("12345", "12*45"),
        ("1234", "****"),
        ("", ""),
    ],
)
def test_mask_id_number(value: str, expected: str) -> None:
    assert mask_id_number(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13812345678", "138****5678"),
        ("03717654321", "037******21"),
        ("01012345678", "010******78"),
        ("12345", "*****"),
        ("", ""),
    ],
)
def test_mask_phone(value: str, expected: str) -> None:
    assert mask_phone(value) == expected


# --- pinyin search keys --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("张伟", ("zhangwei", "zw")),
        ("曾伟", ("zengwei", "zw")),
        ("曾国藩", ("zengguofan", "zgf")),
        ("单雄信", ("shanxiongxin", "sxx")),
        ("解缙", ("xiejin", "xj")),
        ("仇英", ("qiuying", "qy")),
        ("区伟", ("ouwei", "ow")),
        ("查良镛", ("zhaliangyong", "zly")),
        ("朴正", ("piaozheng", "pz")),
        ("尉迟恭", ("yuchigong", "ycg")),
        ("万俟卨", ("moqixie", "mqx")),
        ("欧阳娜娜", ("ouyangnana", "oynn")),
        ("吕芳", ("lvfang", "lf")),
        ("王曾", ("wangceng", "wc")),  # 曾 is only special as the surname
        ("阿卜杜·买买提", ("abudumaimaiti", "abdmmt")),
        ("John Smith", ("johnsmith", "js")),
        ("José García", ("josegarcia", "jg")),
        ("李Lily", ("lilily", "ll")),
        ("", ("", "")),
    ],
)
def test_name_search_keys(name: str, expected: tuple[str, str]) -> None:
    assert name_search_keys(name) == expected


# --- electronic health card ------------------------------------------------------

SECRET = b"county-test-secret"


def test_derive_card_id_is_hmac_sha256_upper_hex() -> None:
    card = derive_card_id(SECRET, "01", SAMPLE_X)
    expected = hmac.new(SECRET, f"01|{SAMPLE_X}".encode(), hashlib.sha256).hexdigest().upper()
    assert card == expected
    assert len(card) == rules.CARD_ID_LEN == 64
    assert card == card.upper()
    assert set(card) <= set("0123456789ABCDEF")
    assert derive_card_id(SECRET, "01", SAMPLE_X) == card  # deterministic
    assert derive_card_id(SECRET, "01", MALE) != card
    assert derive_card_id(SECRET, "03", SAMPLE_X) != card
    assert derive_card_id(b"other-secret", "01", SAMPLE_X) != card


def test_derive_local_card_id() -> None:
    card = derive_local_card_id(SECRET, "R000123")
    expected = hmac.new(SECRET, b"mpi|R000123", hashlib.sha256).hexdigest().upper()
    assert card == expected
    assert derive_local_card_id(SECRET, "R000123") == card
    assert derive_local_card_id(SECRET, "R000124") != card


@pytest.mark.parametrize(
    ("secret", "doc_type", "doc_number"),
    [
        (b"", "01", SAMPLE_X),
        (SECRET, "", SAMPLE_X),
        (SECRET, "0|1", SAMPLE_X),
        (SECRET, "mpi", "R000123"),
        (SECRET, "01", ""),
    ],
)
def test_derive_card_id_rejects_ambiguous_input(
    secret: bytes, doc_type: str, doc_number: str
) -> None:
    with pytest.raises(ValueError):
        derive_card_id(secret, doc_type, doc_number)


CARD = derive_card_id(SECRET, "01", SAMPLE_X)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (CARD, CARD),
        (f"  {CARD.lower()}\n", CARD),
        ("ab" * 32, "AB" * 32),
    ],
)
def test_normalize_card_id(raw: str, expected: str) -> None:
    assert normalize_card_id(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", CARD[:63], CARD + "0", "G" + CARD[1:], CARD[:32] + " " + CARD[32:]]
)
def test_normalize_card_id_invalid(raw: str) -> None:
    with pytest.raises(RuleError) as info:
        normalize_card_id(raw)
    assert (info.value.field, info.value.code) == ("card_id", "format")
    assert "64" in info.value.msg_zh


NOW = datetime(2025, 6, 1, 10, 0, 0, tzinfo=UTC)  # 18:00 Beijing


def test_static_qr_round_trip() -> None:
    text = static_qr_text(CARD.lower())
    assert text == f"{CARD}:1"
    assert parse_qr_text(text, secret=SECRET, now=NOW) == QrScan(CARD, "1", None)
    assert parse_qr_text(f"  {CARD.lower()}:1\n", secret=b"any", now=NOW) == QrScan(CARD, "1", None)


def test_dynamic_qr_text_layout() -> None:
    until = datetime(2025, 6, 1, 10, 5, 30, 999_999, tzinfo=UTC)
    text = dynamic_qr_text(CARD, valid_until=until, secret=SECRET)
    card, qr_type, stamp, sig = text.split(":")
    assert (card, qr_type, stamp) == (CARD, "2", "20250601180530")
    expected_sig = hmac.new(SECRET, f"{CARD}:2:20250601180530".encode(), hashlib.sha256)
    assert sig == expected_sig.hexdigest().upper()[:16]


def test_dynamic_qr_round_trip() -> None:
    until = NOW + timedelta(minutes=5)
    text = dynamic_qr_text(CARD, valid_until=until, secret=SECRET)
    scan = parse_qr_text(text, secret=SECRET, now=NOW)
    assert scan.card_id == CARD
    assert scan.qr_type == "2"
    assert scan.valid_until == until
    assert scan.valid_until is not None
    assert scan.valid_until.utcoffset() == timedelta(hours=8)
    # exactly at valid_until is still valid; one second later it is not
    assert parse_qr_text(text, secret=SECRET, now=until).valid_until == until
    # lower-case input is accepted and the card id comes back upper-case
    assert parse_qr_text(text.lower(), secret=SECRET, now=NOW).card_id == CARD


def test_dynamic_qr_text_requires_aware_datetime() -> None:
    naive = datetime(2025, 6, 1, 18, 5)  # noqa: DTZ001 - deliberately naive
    with pytest.raises(ValueError, match="timezone-aware"):
        dynamic_qr_text(CARD, valid_until=naive, secret=SECRET)
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_qr_text(static_qr_text(CARD), secret=SECRET, now=naive)


def _flip(ch: str) -> str:
    return "0" if ch != "0" else "1"


def _qr_error(text: str, *, secret: bytes = SECRET, now: datetime = NOW) -> RuleError:
    with pytest.raises(RuleError) as info:
        parse_qr_text(text, secret=secret, now=now)
    assert info.value.field == "qr"
    return info.value


def test_dynamic_qr_tampered() -> None:
    text = dynamic_qr_text(CARD, valid_until=NOW + timedelta(minutes=5), secret=SECRET)
    card, qr_type, stamp, sig = text.split(":")
    for i in (0, 7, 15):
        bad_sig = sig[:i] + _flip(sig[i]) + sig[i + 1 :]
        assert _qr_error(f"{card}:{qr_type}:{stamp}:{bad_sig}").code == "tampered"
    # extend the lifetime without re-signing
    assert _qr_error(f"{card}:{qr_type}:20991231235959:{sig}").code == "tampered"
    # another card id with this signature
    other = derive_card_id(SECRET, "01", MALE)
    assert _qr_error(f"{other}:{qr_type}:{stamp}:{sig}").code == "tampered"
    # wrong key, truncated and empty signature
    assert _qr_error(text, secret=b"other-secret").code == "tampered"
    assert _qr_error(f"{card}:{qr_type}:{stamp}:{sig[:15]}").code == "tampered"
    assert _qr_error(f"{card}:{qr_type}:{stamp}:").code == "tampered"
    assert _qr_error(f"{card}:{qr_type}:{stamp}:签名").code == "tampered"


def test_dynamic_qr_expired() -> None:
    until = NOW - timedelta(seconds=1)
    text = dynamic_qr_text(CARD, valid_until=until, secret=SECRET)
    err = _qr_error(text)
    assert err.code == "expired"
    assert "过期" in err.msg_zh
    assert "expired" in err.msg_en


def test_tampered_is_reported_before_expired() -> None:
    text = dynamic_qr_text(CARD, valid_until=NOW - timedelta(hours=1), secret=SECRET)
    assert _qr_error(text, secret=b"other-secret").code == "tampered"


def _signed(stamp: str) -> str:
    sig = hmac.new(SECRET, f"{CARD}:2:{stamp}".encode(), hashlib.sha256).hexdigest()
    return f"{CARD}:2:{stamp}:{sig.upper()[:16]}"


@pytest.mark.parametrize(
    "text",
    [
        "",
        CARD,
        f"{CARD}:1:20250601180000",  # static with 3 fields
        f"{CARD}:2:20250601180000",  # dynamic with 3 fields (unsigned)
        f"{CARD}:2:20250601180000:ABCDEF0123456789:X",  # 5 fields
        f"{CARD}:1:",
        f"{CARD[:63]}:1",
        f"{CARD}0:1",
        f"G{CARD[1:]}:1",
        f"{CARD}:3",
        f"{CARD}:",
        f"{CARD}:3:20250601180000:ABCDEF0123456789",
        _signed("2025060118000"),  # 13 digits
        _signed("20250231180000"),  # 31 February
        _signed("20250601250000"),  # hour 25
        _signed("2025-06-01T18:0"),
        "hello world",
    ],
)
def test_parse_qr_malformed(text: str) -> None:
    err = _qr_error(text)
    assert err.code == "malformed"
    assert "二维码" in err.msg_zh


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{CARD}:1", True),
        (f"{CARD.lower()}:2:20250601180000:ABCDEF0123456789", True),
        (f"  {CARD}:1", True),
        (CARD, False),
        (f"{CARD[:63]}:1", False),
        ("张伟", False),
        (SAMPLE_X, False),
        ("13812345678", False),
        ("", False),
    ],
)
def test_looks_like_qr_text(text: str, expected: bool) -> None:
    assert looks_like_qr_text(text) is expected

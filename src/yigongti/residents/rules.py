"""Pure validation rules for resident identity data (no Django, no database).

Everything here is a plain function over strings, dates and bytes so that forms, the
import pipeline, the synthetic county generator and the search box share one set of rules.

Identity number (身份证号, GB 11643-1999)
    18 characters: 6-digit address code, 8-digit birth date (YYYYMMDD), 3-digit sequence
    (odd = male, even = female) and a check character.  The check character is
    ``ID_CHECK_CHARS[sum(d_i * w_i) mod 11]`` over the first 17 digits with ``ID_WEIGHTS``.
    Only *safe* normalisation is applied before checking (spaces removed, full-width
    digits and X folded, lower-case x upper-cased); anything else is left in place so that
    validation rejects it instead of silently guessing.

Names, phones
    Names are Han characters, Latin words and the minority-name separator "·".  Phones are
    mainland mobiles (``1[3-9]`` + 9 digits) or landlines with area code.

Electronic health card (电子健康卡)
    The national card ID is 64 hexadecimal characters derived with SM4 under keys held by
    the national platform.  We accept such external IDs as they are, and issue *local*
    IDs as ``HMAC-SHA256(secret, "DOC_TYPE|DOC_NUMBER")`` (or ``"mpi|RESIDENT_KEY"`` for a
    resident without a document) rendered as 64 upper-case hex characters.

    QR text layout:

    * static:  ``CARD_ID:1``
    * dynamic: ``CARD_ID:2:VALID_UNTIL:SIG``

    ``CARD_ID:QR_TYPE:VALID_UNTIL`` follows the national layout; VALID_UNTIL is
    ``YYYYMMDDHHMMSS`` in Beijing time (Asia/Shanghai).  The fourth field ``SIG`` is a
    **local extension**: the first 16 upper-case hex characters of
    ``HMAC-SHA256(secret, "CARD_ID:2:VALID_UNTIL")``.  It stops a printed or photographed
    dynamic code from being edited to extend its lifetime.  Dynamic codes without the
    signature (as issued by other platforms) are therefore refused as malformed here.

Messages are Simplified Chinese first (``str(err)``) with an English twin.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pypinyin import Style, lazy_pinyin

__all__ = [
    "CARD_ID_LEN",
    "ID_CHECK_CHARS",
    "ID_WEIGHTS",
    "NAME_DOT",
    "NAME_MAX_LEN",
    "QR_DYNAMIC",
    "QR_STATIC",
    "ParsedId",
    "QrScan",
    "RuleError",
    "check_id_agrees",
    "derive_card_id",
    "derive_local_card_id",
    "dynamic_qr_text",
    "id_check_char",
    "looks_like_qr_text",
    "make_id_number",
    "mask_id_number",
    "mask_phone",
    "name_search_keys",
    "normalize_card_id",
    "normalize_id_number",
    "normalize_name",
    "normalize_phone",
    "parse_id_number",
    "parse_qr_text",
    "static_qr_text",
    "validate_name",
    "validate_phone",
]


class RuleError(ValueError):
    """One failed rule: field name, a code, a Chinese message and an English message."""

    field: str
    code: str
    msg_zh: str
    msg_en: str

    def __init__(self, field: str, code: str, msg_zh: str, msg_en: str) -> None:
        super().__init__(msg_zh)
        self.field = field
        self.code = code
        self.msg_zh = msg_zh
        self.msg_en = msg_en

    def __str__(self) -> str:
        return self.msg_zh

    def __repr__(self) -> str:
        return f"RuleError(field={self.field!r}, code={self.code!r}, msg_en={self.msg_en!r})"

    def __reduce__(self) -> tuple[type[RuleError], tuple[str, str, str, str]]:
        # Keep the four fields when the error crosses a process boundary (pickle).
        return (type(self), (self.field, self.code, self.msg_zh, self.msg_en))


# ---------------------------------------------------------------------------
# 身份证 GB 11643-1999
# ---------------------------------------------------------------------------

ID_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS: str = "10X98765432"

_ID_FIELD = "doc_number"
_ID_MIN_BIRTH = date(1900, 1, 1)
_ASCII_DIGITS = frozenset("0123456789")
# Full-width digits and X (as typed with a Chinese IME), lower-case x.
_ID_CHAR_MAP = {ord("０") + i: str(i) for i in range(10)} | {
    ord("Ｘ"): "X",
    ord("ｘ"): "X",
    ord("x"): "X",
}


def _is_digits(text: str) -> bool:
    # str.isdigit() also accepts superscripts and other scripts' digits; we want ASCII only.
    return bool(text) and all(ch in _ASCII_DIGITS for ch in text)


def id_check_char(first17: str) -> str:
    """Return the GB 11643 check character ("0"-"9" or "X") for 17 ASCII digits."""
    if len(first17) != 17 or not _is_digits(first17):
        raise ValueError(f"need exactly 17 ASCII digits, got {first17!r}")
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def normalize_id_number(raw: str) -> str:
    """Safe normalisation: drop all whitespace, fold full-width digits/X, upper-case x.

    Nothing else is changed: other characters stay so that validation rejects them.
    """
    return "".join(raw.split()).translate(_ID_CHAR_MAP)


@dataclass(frozen=True)
class ParsedId:
    """A validated 18-character identity number and what it encodes."""

    number: str
    address_code: str
    birth_date: date
    sex: str  # "1" male (odd sequence), "2" female (even sequence)


def _id_error(code: str, msg_zh: str, msg_en: str) -> RuleError:
    return RuleError(_ID_FIELD, code, msg_zh, msg_en)


def parse_id_number(raw: str, *, today: date) -> ParsedId:
    """Normalise and validate an identity number; raise ``RuleError`` (field "doc_number").

    Codes, checked in this order: "length", "chars", "birth_date", "future", "checksum".
    """
    number = normalize_id_number(raw)
    if len(number) == 15 and _is_digits(number):
        raise _id_error(
            "length",
            "身份证号为15位旧号码，请换算为18位新号码",
            "ID number is an old 15-digit number; please convert it to the 18-character form",
        )
    if len(number) != 18:
        raise _id_error(
            "length",
            f"身份证号应为18位，当前为{len(number)}位",
            f"ID number must be 18 characters; got {len(number)}",
        )
    if not _is_digits(number[:17]) or not (number[17] in _ASCII_DIGITS or number[17] == "X"):
        raise _id_error(
            "chars",
            "身份证号只能包含数字，最后一位可为X",
            "ID number may contain only digits, with X allowed as the last character",
        )
    birth: date | None
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        birth = None
    if birth is None or birth < _ID_MIN_BIRTH:
        raise _id_error(
            "birth_date",
            "身份证号中的出生日期无效",
            "ID number contains an invalid birth date",
        )
    if birth > today:
        raise _id_error(
            "future",
            "身份证号中的出生日期晚于今天",
            "ID number contains a birth date in the future",
        )
    if id_check_char(number[:17]) != number[17]:
        # Deliberately do not reveal the expected character: it would turn a typo
        # anywhere in the number into a "valid" but wrong number.
        raise _id_error(
            "checksum",
            "身份证号校验位错误，请核对号码",
            "ID number check character is wrong; please check the number",
        )
    sex = "1" if int(number[14:17]) % 2 == 1 else "2"
    return ParsedId(number=number, address_code=number[:6], birth_date=birth, sex=sex)


_SEX_LABELS = {"1": ("男", "male"), "2": ("女", "female")}
_SEX_UNKNOWN = frozenset({"", "0", "9"})  # GB/T 2261.1: 0 unknown, 9 unspecified


def check_id_agrees(
    parsed: ParsedId, *, birth_date: date | None, sex: str | None
) -> list[RuleError]:
    """Return errors (fields "birth_date" / "sex", code "mismatch") where given values
    contradict the identity number.  ``None``, "", "0" (unknown) and "9" (unspecified)
    for sex, and ``None`` for birth date, make no claim and are not checked.

    Any other sex value than "1"/"2"/"0"/"9"/"" is a programming error (ValueError).
    """
    errors: list[RuleError] = []
    if birth_date is not None and birth_date != parsed.birth_date:
        shown = parsed.birth_date.isoformat()
        errors.append(
            RuleError(
                "birth_date",
                "mismatch",
                f"出生日期与身份证号不一致（号码中为{shown}）",
                f"Birth date does not match the ID number (the number says {shown})",
            )
        )
    if sex is not None and sex not in _SEX_UNKNOWN:
        if sex not in _SEX_LABELS:
            raise ValueError(f"unknown sex code {sex!r}")
        if sex != parsed.sex:
            zh, en = _SEX_LABELS[parsed.sex]
            errors.append(
                RuleError(
                    "sex",
                    "mismatch",
                    f"性别与身份证号不一致（号码中为{zh}）",
                    f"Sex does not match the ID number (the number says {en})",
                )
            )
    return errors


def make_id_number(address_code: str, birth_date: date, sequence: int) -> str:
    """Build a valid 18-character number; ``sequence`` 0..999, odd = male, even = female."""
    if len(address_code) != 6 or not _is_digits(address_code):
        raise ValueError(f"address code must be 6 ASCII digits, got {address_code!r}")
    if not 0 <= sequence <= 999:
        raise ValueError(f"sequence must be in 0..999, got {sequence}")
    if birth_date < _ID_MIN_BIRTH:
        raise ValueError(f"birth date must be on or after {_ID_MIN_BIRTH}, got {birth_date}")
    first17 = (
        f"{address_code}{birth_date.year:04d}{birth_date.month:02d}{birth_date.day:02d}"
        f"{sequence:03d}"
    )
    return first17 + id_check_char(first17)


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------

NAME_MAX_LEN = 30
NAME_DOT = "\u00b7"  # "·" MIDDLE DOT, the separator in transliterated minority names

# Look-alikes people type for the name separator.
_DOT_VARIANTS = "\u30fb\uff65\u2022\u2027\u22c5\u2219\u0387\u2e31\u00b7"
_DOT_MAP = {ord(ch): NAME_DOT for ch in _DOT_VARIANTS}
# Full-width Latin letters -> ASCII (Ａ-Ｚ, ａ-ｚ).
_FULLWIDTH_LATIN = {c: c - 0xFEE0 for c in range(0xFF21, 0xFF3B)} | {
    c: c - 0xFEE0 for c in range(0xFF41, 0xFF5B)
}
# A period typed between two Han characters can only mean the separator ("阿卜杜.买买提").
_HAN = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af]"
_PERIOD_BETWEEN_HAN = re.compile(rf"(?<={_HAN})\s*[.．。]\s*(?={_HAN})")
_SPACE_BETWEEN_HAN = re.compile(rf"(?<={_HAN}) (?={_HAN})")
_SPACE_AROUND_DOT = re.compile(r" ?\u00b7 ?")


def _is_han(ch: str) -> bool:
    name = unicodedata.name(ch, "")
    return name.startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH"))


def _is_latin_letter(ch: str) -> bool:
    return ch.isalpha() and unicodedata.name(ch, "").startswith("LATIN ")


def normalize_name(raw: str) -> str:
    """Strip, collapse whitespace, unify the "·" separator and full-width Latin letters.

    Also drops a space between two Han characters ("张 伟" -> "张伟") and spaces around
    "·", and turns a period between two Han characters into "·": none of these can be
    meant literally in a name.
    """
    text = " ".join(raw.split())
    text = text.translate(_DOT_MAP).translate(_FULLWIDTH_LATIN)
    text = _PERIOD_BETWEEN_HAN.sub(NAME_DOT, text)
    text = _SPACE_AROUND_DOT.sub(NAME_DOT, text)
    return _SPACE_BETWEEN_HAN.sub("", text)


def _name_error(code: str, msg_zh: str, msg_en: str) -> RuleError:
    return RuleError("name", code, msg_zh, msg_en)


def validate_name(raw: str) -> str:
    """Return the normalised name or raise ``RuleError`` (field "name").

    Codes: "required", "too_long" (more than ``NAME_MAX_LEN`` characters), "chars".
    Allowed: Han characters, Latin letters, "·" between parts, a single space between
    two Latin words.
    """
    name = normalize_name(raw)
    if not name:
        raise _name_error("required", "请填写姓名", "Name is required")
    if len(name) > NAME_MAX_LEN:
        raise _name_error(
            "too_long",
            f"姓名不能超过{NAME_MAX_LEN}个字，当前为{len(name)}个",
            f"Name must be at most {NAME_MAX_LEN} characters; got {len(name)}",
        )
    for i, ch in enumerate(name):
        if _is_han(ch) or _is_latin_letter(ch):
            continue
        inner = 0 < i < len(name) - 1
        if ch == NAME_DOT and inner and name[i + 1] != NAME_DOT:
            continue
        if ch == " " and inner and _is_latin_letter(name[i - 1]) and _is_latin_letter(name[i + 1]):
            continue
        raise _name_error(
            "chars",
            "姓名只能包含汉字、字母和间隔号“·”",
            'Name may contain only Chinese characters, letters and the separator "·"',
        )
    return name


# ---------------------------------------------------------------------------
# Phones
# ---------------------------------------------------------------------------

_PHONE_DROP = {ord(ch): None for ch in " \t\u3000-－‐‑–—()（）"}
_PHONE_FULLWIDTH = {ord("０") + i: str(i) for i in range(10)} | {ord("＋"): "+"}
_MOBILE_RE = re.compile(r"1[3-9]\d{9}")
_LANDLINE_RE = re.compile(r"0(?:10|2\d)\d{8}|0[3-9]\d{2}\d{7,8}")
_MOBILE_PREFIX_RE = re.compile(r"(?:\+86|0086|86)(1[3-9]\d{9})")
_INTL_LANDLINE_RE = re.compile(r"(?:\+86|0086)([2-9]\d{8,10}|10\d{8})")


def normalize_phone(raw: str) -> str:
    """Drop spaces, hyphens and parentheses, fold full-width digits, remove the country
    code: "+86 138-1234-5678" -> "13812345678".

    A "+86"/"0086" landline in international form regains its trunk "0":
    "+86 371 7654 321" -> "03717654321".  Anything else is left for validation to refuse.
    """
    text = "".join(raw.split()).translate(_PHONE_FULLWIDTH).translate(_PHONE_DROP)
    if m := _MOBILE_PREFIX_RE.fullmatch(text):
        return m.group(1)
    if m := _INTL_LANDLINE_RE.fullmatch(text):
        return "0" + m.group(1)
    return text


def validate_phone(raw: str) -> str:
    """Return the normalised phone ("" allowed) or raise ``RuleError`` (field "phone",
    code "format").  Mobile: 1[3-9] + 9 digits.  Landline: 0 + area code + local number
    (010/02X + 8 digits, or 0XXX + 7-8 digits)."""
    phone = normalize_phone(raw)
    if not phone or _MOBILE_RE.fullmatch(phone) or _LANDLINE_RE.fullmatch(phone):
        return phone
    raise RuleError(
        "phone",
        "format",
        "电话号码格式不正确，请填写11位手机号或带区号的固定电话",
        "Phone number is invalid; enter an 11-digit mobile or a landline with area code",
    )


# ---------------------------------------------------------------------------
# Masking for display
# ---------------------------------------------------------------------------


def _mask_middle(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail :]


def mask_id_number(value: str) -> str:
    """18 characters -> "410101********1234"; other lengths keep the first and last two."""
    if len(value) == 18:
        return _mask_middle(value, 6, 4)
    return _mask_middle(value, 2, 2)


def mask_phone(value: str) -> str:
    """Mobile -> "138****5678"; other numbers keep the first three and last two."""
    if _MOBILE_RE.fullmatch(value):
        return _mask_middle(value, 3, 4)
    return _mask_middle(value, 3, 2)


# ---------------------------------------------------------------------------
# Pinyin search keys
# ---------------------------------------------------------------------------

# pypinyin 0.55 has no surname mode, so the surnames whose reading differs from the
# character's everyday reading are listed here.  Applied to the first character(s) only.
_SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    # compound surnames
    "尉迟": ("yu", "chi"),
    "万俟": ("mo", "qi"),
    "单于": ("chan", "yu"),
    "长孙": ("zhang", "sun"),
    "澹台": ("tan", "tai"),
    "乐正": ("yue", "zheng"),
    # single-character surnames
    "曾": ("zeng",),
    "单": ("shan",),
    "解": ("xie",),
    "仇": ("qiu",),
    "区": ("ou",),
    "查": ("zha",),
    "朴": ("piao",),
    "覃": ("qin",),
    "盖": ("ge",),
    "缪": ("miao",),
    "翟": ("zhai",),
    "秘": ("bi",),
    "员": ("yun",),
    "句": ("gou",),
    "种": ("chong",),
    "折": ("she",),
    "召": ("shao",),
    "繁": ("po",),
    "阚": ("kan",),
    "卜": ("bu",),
    "薄": ("bo",),
    "乜": ("nie",),
    "黑": ("he",),
}
# Characters whose name reading differs from pypinyin's choice anywhere in a name
# (pypinyin reads 卜 as "bo", from 萝卜; in names, e.g. 阿卜杜, it is "bu").
_NAME_CHAR_READINGS: dict[str, str] = {"卜": "bu"}
_HAN_RUN = re.compile(rf"{_HAN}+")
_LATIN_WORD = re.compile(r"[a-z0-9]+")


def _latin_words(text: str) -> list[str]:
    # "José" -> "jose": drop accents, keep ASCII letters and digits.
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _LATIN_WORD.findall(folded.lower())


def _syllables(text: str) -> list[str]:
    """Pinyin syllables of Han runs and lower-cased words of everything else, in order."""
    out: list[str] = []
    pos = 0
    for m in _HAN_RUN.finditer(text):
        out.extend(_latin_words(text[pos : m.start()]))
        run = m.group()
        items = lazy_pinyin(run, style=Style.NORMAL)
        if len(items) == len(run):  # one syllable per character: apply name readings
            items = [_NAME_CHAR_READINGS.get(ch, s) for ch, s in zip(run, items, strict=True)]
        out.extend(s for s in items if s.isascii())
        pos = m.end()
    out.extend(_latin_words(text[pos:]))
    return [s for s in out if s]


def name_search_keys(name: str) -> tuple[str, str]:
    """Return (full pinyin, initials), lower case without separators.

    "张伟" -> ("zhangwei", "zw"); "曾伟" -> ("zengwei", "zw"); "John Smith" ->
    ("johnsmith", "js").  Each Latin word counts as one syllable for the initials.
    """
    text = normalize_name(name)
    syllables: list[str] = []
    for size in (2, 1):
        reading = _SURNAME_READINGS.get(text[:size])
        if reading is not None:
            syllables.extend(reading)
            text = text[size:]
            break
    syllables.extend(_syllables(text))
    return "".join(syllables), "".join(s[0] for s in syllables)


# ---------------------------------------------------------------------------
# Electronic health card (电子健康卡)
# ---------------------------------------------------------------------------

CARD_ID_LEN = 64
QR_STATIC = "1"
QR_DYNAMIC = "2"

_HEX64_RE = re.compile(r"[0-9A-Fa-f]{64}")
_QR_PREFIX_RE = re.compile(r"[0-9A-Fa-f]{64}:")
_TIMESTAMP_RE = re.compile(r"\d{14}")
_TIMESTAMP_FMT = "%Y%m%d%H%M%S"
_SIG_LEN = 16
_LOCAL_MPI_TYPE = "mpi"

try:
    _BEIJING: tzinfo = ZoneInfo("Asia/Shanghai")
except ZoneInfoNotFoundError:  # pragma: no cover - no tz database (e.g. Windows without tzdata)
    # Asia/Shanghai has been a constant UTC+8 since 1991.
    _BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def _hmac_hex(secret: bytes, message: str) -> str:
    if not secret:
        raise ValueError("secret must not be empty")
    return hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest().upper()


def derive_card_id(secret: bytes, doc_type: str, doc_number: str) -> str:
    """Local card ID: HMAC-SHA256(secret, "DOC_TYPE|DOC_NUMBER") as 64 upper-case hex.

    Pass the *normalised* document number, otherwise "…x" and "…X" give different IDs.
    ``doc_type`` must be non-empty, must not contain "|" and must not be "mpi" (reserved
    for ``derive_local_card_id``), so that distinct inputs never share a message.
    """
    if not doc_type or "|" in doc_type or doc_type == _LOCAL_MPI_TYPE:
        raise ValueError(f"invalid document type {doc_type!r}")
    if not doc_number:
        raise ValueError("document number must not be empty")
    return _hmac_hex(secret, f"{doc_type}|{doc_number}")


def derive_local_card_id(secret: bytes, resident_key: str) -> str:
    """Local card ID for a resident with no document yet: HMAC of "mpi|RESIDENT_KEY"."""
    if not resident_key:
        raise ValueError("resident key must not be empty")
    return _hmac_hex(secret, f"{_LOCAL_MPI_TYPE}|{resident_key}")


def normalize_card_id(raw: str) -> str:
    """Strip and upper-case; ``RuleError`` (field "card_id", code "format") unless the
    result is exactly 64 hexadecimal characters."""
    card_id = raw.strip().upper()
    if not _HEX64_RE.fullmatch(card_id):
        raise RuleError(
            "card_id",
            "format",
            f"电子健康卡号应为{CARD_ID_LEN}位十六进制字符",
            f"Health card ID must be {CARD_ID_LEN} hexadecimal characters",
        )
    return card_id


def static_qr_text(card_id: str) -> str:
    """Static QR text "CARD_ID:1"."""
    return f"{normalize_card_id(card_id)}:{QR_STATIC}"


def _qr_signature(secret: bytes, card_id: str, stamp: str) -> str:
    return _hmac_hex(secret, f"{card_id}:{QR_DYNAMIC}:{stamp}")[:_SIG_LEN]


def dynamic_qr_text(card_id: str, *, valid_until: datetime, secret: bytes) -> str:
    """Dynamic QR text "CARD_ID:2:VALID_UNTIL:SIG" (see the module docstring).

    ``valid_until`` must be timezone-aware; it is written in Beijing time to the second
    (microseconds are dropped).
    """
    if valid_until.tzinfo is None or valid_until.utcoffset() is None:
        raise ValueError("valid_until must be timezone-aware")
    card = normalize_card_id(card_id)
    stamp = valid_until.astimezone(_BEIJING).strftime(_TIMESTAMP_FMT)
    return f"{card}:{QR_DYNAMIC}:{stamp}:{_qr_signature(secret, card, stamp)}"


@dataclass(frozen=True)
class QrScan:
    """A verified QR scan.  ``valid_until`` is None for static codes."""

    card_id: str
    qr_type: str
    valid_until: datetime | None


def _qr_error(code: str, msg_zh: str, msg_en: str) -> RuleError:
    return RuleError("qr", code, msg_zh, msg_en)


def _malformed() -> RuleError:
    return _qr_error("malformed", "无法识别的电子健康卡二维码", "Unrecognised health card QR code")


def parse_qr_text(text: str, *, secret: bytes, now: datetime) -> QrScan:
    """Parse and verify QR text; ``RuleError`` (field "qr") with code "malformed",
    "tampered" (dynamic signature wrong) or "expired" (``now`` after VALID_UNTIL).

    ``now`` must be timezone-aware.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    fields = text.strip().split(":")
    if len(fields) < 2 or not _HEX64_RE.fullmatch(fields[0]):
        raise _malformed()
    card_id = fields[0].upper()
    qr_type = fields[1]
    if qr_type == QR_STATIC and len(fields) == 2:
        return QrScan(card_id=card_id, qr_type=QR_STATIC, valid_until=None)
    if qr_type != QR_DYNAMIC or len(fields) != 4:
        raise _malformed()
    stamp, sig = fields[2], fields[3]
    if not _TIMESTAMP_RE.fullmatch(stamp):
        raise _malformed()
    try:
        valid_until = datetime(
            int(stamp[0:4]),
            int(stamp[4:6]),
            int(stamp[6:8]),
            int(stamp[8:10]),
            int(stamp[10:12]),
            int(stamp[12:14]),
            tzinfo=_BEIJING,
        )
    except ValueError:
        raise _malformed() from None
    expected = _qr_signature(secret, card_id, stamp)
    if not hmac.compare_digest(sig.upper().encode("ascii", "replace"), expected.encode("ascii")):
        raise _qr_error(
            "tampered",
            "电子健康卡二维码校验失败，请重新出示",
            "Health card QR code failed verification; please show it again",
        )
    if now > valid_until:
        raise _qr_error(
            "expired",
            "电子健康卡二维码已过期，请刷新后重新出示",
            "Health card QR code has expired; please refresh it and show it again",
        )
    return QrScan(card_id=card_id, qr_type=QR_DYNAMIC, valid_until=valid_until)


def looks_like_qr_text(text: str) -> bool:
    """Cheap routing test for the search box: 64 hex characters followed by ":"."""
    return _QR_PREFIX_RE.match(text.strip()) is not None

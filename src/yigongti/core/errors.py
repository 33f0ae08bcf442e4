"""Errors that reach a user. Each names the field it is about and carries a Chinese message
(the UI) and an English twin (the API returns both)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FieldError:
    field: str
    msg_zh: str
    msg_en: str
    code: str = "invalid"

    @property
    def path(self) -> list[str | int]:
        """The field as a location list: `diagnoses.0.code` → ["diagnoses", 0, "code"]."""
        return [int(p) if p.isdigit() else p for p in self.field.split(".")] if self.field else []

    def as_api(self, prefix: tuple[str, ...] = ("body",)) -> dict[str, object]:
        return {
            "loc": [*prefix, *self.path],
            "msg": self.msg_zh,
            "msg_en": self.msg_en,
            "type": self.code,
        }


class DomainError(Exception):
    """Input or state that an action refuses. HTTP 422 unless `status` says otherwise."""

    status = 422

    def __init__(
        self,
        errors: list[FieldError] | FieldError,
        *,
        status: int | None = None,
        extra: dict[str, object] | None = None,
    ):
        self.errors = errors if isinstance(errors, list) else [errors]
        if status is not None:
            self.status = status
        self.extra = extra or {}
        super().__init__("; ".join(e.msg_zh for e in self.errors))

    @classmethod
    def single(
        cls, field: str, msg_zh: str, msg_en: str, code: str = "invalid", **kwargs: object
    ) -> DomainError:
        return cls(FieldError(field, msg_zh, msg_en, code), **kwargs)  # type: ignore[arg-type]


class Conflict(DomainError):
    """The request is well formed but clashes with existing data (a duplicate registration)."""

    status = 409


class NotFound(Exception):
    """The object does not exist *for this actor*: out-of-scope objects look absent."""

    def __init__(self, what: str = "记录"):
        self.what = what
        super().__init__(f"{what}不存在或无权查看")


class Forbidden(Exception):
    def __init__(self, msg_zh: str = "无权执行此操作", msg_en: str = "Not allowed"):
        self.msg_zh = msg_zh
        self.msg_en = msg_en
        super().__init__(msg_zh)

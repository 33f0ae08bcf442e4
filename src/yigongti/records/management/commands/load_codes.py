"""Load code tables from CSV: `manage.py load_codes --icd10 FILE --drugs FILE`, or
`--starter` for the small tables the platform ships."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yigongti.records import codes, rules


class Command(BaseCommand):
    help = "导入编码表（ICD-10 国家临床版、药品耗材目录）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--icd10", type=Path, help="ICD-10 CSV：code,name[,chapter]")
        parser.add_argument("--drugs", type=Path, help="药品目录 CSV：code,generic_name,…")
        parser.add_argument("--starter", action="store_true", help="平台自带的入门编码表")

    def handle(self, *args: Any, **opts: Any) -> None:
        jobs = []
        if opts["starter"]:
            jobs += [("icd10", codes.ICD_STARTER), ("drugs", codes.DRUG_STARTER)]
        if opts["icd10"]:
            jobs.append(("icd10", opts["icd10"]))
        if opts["drugs"]:
            jobs.append(("drugs", opts["drugs"]))
        if not jobs:
            raise CommandError("请给出 --icd10、--drugs 或 --starter")
        for table, path in jobs:
            loader = codes.load_icd10 if table == "icd10" else codes.load_drugs
            try:
                report = loader(Path(path).read_bytes())
            except rules.RuleError as exc:
                raise CommandError(f"{path}: {exc.msg_zh}") from exc
            self.stdout.write(
                f"{path}: 新增 {report.created}，更新 {report.updated}，"
                f"未变 {report.unchanged}，错误 {len(report.errors)}"
            )
            for err in report.errors[:20]:
                self.stderr.write(f"  第 {err['line']} 行：{err['msg']}")

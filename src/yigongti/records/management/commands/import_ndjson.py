"""Bulk-import FHIR resources from an NDJSON file (one resource per line):
`manage.py import_ndjson FILE --source-system HIS-A`. Runs as the platform (system actor).
Observations take the fast path; other types are refused here (send them to
POST /fhir/$import or as transaction Bundles)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yigongti.core.actor import Actor
from yigongti.records import bulk


class Command(BaseCommand):
    help = "批量导入 FHIR NDJSON 文件（每行一个资源）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="NDJSON 文件")
        parser.add_argument("--source-system", default="", help="来源系统（记在导入任务上）")
        parser.add_argument("--chunk", type=int, default=bulk.CHUNK, help="每批行数")

    def handle(self, *args: Any, **opts: Any) -> None:
        path: Path = opts["file"]
        if not path.is_file():
            raise CommandError(f"文件不存在：{path}")
        started = time.perf_counter()
        job = bulk.import_ndjson(
            Actor.system("import_ndjson"),
            path.read_bytes(),
            name=path.name,
            source_system=opts["source_system"],
            chunk=opts["chunk"],
        )
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"{path}: 共 {job.total} 行，新增 {job.created}，更正 {job.updated}，"
            f"未变 {job.unchanged}，失败 {job.failed}（任务 {job.pk}，{seconds:.1f} 秒）"
        )
        for err in job.errors[:50]:
            self.stdout.write(f"  第 {err['line']} 行 {err['path']}: {err['msg_zh']}")

"""Import a HIS file to the end with a progress bar:
`manage.py import_his FILE --format csv|hl7 --facility CODE --source-system X`,
or finish a job a page started: `manage.py import_his --job ID [--resume]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError
from yigongti.records.his import jobs
from yigongti.records.his.common import SYSTEM_REASON
from yigongti.records.models import ImportJob, ImportStatus

CHUNK = 500


class Command(BaseCommand):
    help = "导入 HIS 数据文件（CSV 就诊记录或 HL7 v2 ADT 消息），显示进度"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", type=Path, help="CSV 或 HL7 文件")
        parser.add_argument("--format", choices=("csv", "hl7"), help="文件类型")
        parser.add_argument("--facility", default="", help="机构编码（CSV 必填）")
        parser.add_argument("--source-system", default="", help="来源系统标识，默认为机构编码")
        parser.add_argument("--job", type=int, help="继续一个已有的导入任务")
        parser.add_argument("--resume", action="store_true", help="任务停在“导入中”时强制继续")
        parser.add_argument("--chunk", type=int, default=CHUNK, help="每批行数")

    def handle(self, *args: Any, **opts: Any) -> None:
        actor = Actor.system(SYSTEM_REASON)
        if opts["job"]:
            job = ImportJob.objects.filter(pk=opts["job"]).first()
            if job is None:
                raise CommandError(f"导入任务 {opts['job']} 不存在")
            if opts["resume"]:
                job = jobs.resume(actor, job.pk)
        else:
            path: Path | None = opts["file"]
            if path is None or not opts["format"]:
                raise CommandError("请给出文件和 --format csv|hl7（或 --job ID）")
            if not path.is_file():
                raise CommandError(f"文件不存在：{path}")
            try:
                job = jobs.start_import(
                    actor,
                    kind=opts["format"],
                    name=path.name,
                    raw=path.read_bytes(),
                    facility_code=opts["facility"],
                    source_system=opts["source_system"],
                )
            except DomainError as exc:
                raise CommandError("；".join(e.msg_zh for e in exc.errors)) from exc
        self.stdout.write(f"导入任务 #{job.pk}：{job.name}，共 {job.total} 条")
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("失败 {task.fields[failed]}"),
            TimeRemainingColumn(),
            transient=False,
        ) as progress:
            task = progress.add_task(
                "导入", total=job.total, completed=job.processed, failed=job.failed
            )
            while job.status == ImportStatus.QUEUED:
                job = jobs.run_chunk(actor, job.pk, opts["chunk"])
                progress.update(task, completed=job.processed, failed=job.failed)
        if job.status == ImportStatus.RUNNING:
            raise CommandError("任务正由其他进程导入；若该进程已中断，请加 --resume 重试")
        self.stdout.write(
            f"{job.get_status_display()}：新增 {job.created}，更正 {job.updated}，"
            f"未变 {job.unchanged}，失败 {job.failed}"
        )
        for e in job.errors[:20]:
            self.stderr.write(f"  {e['line']} {e['column']} {e['key']}：{e['message']}")
        if len(job.errors) > 20:
            self.stderr.write(
                f"  …… 共 {len(job.errors)} 条错误，见任务页面或 /api/v1/his/jobs/{job.pk}"
            )
        if job.status == ImportStatus.FAILED:
            raise CommandError(job.message)

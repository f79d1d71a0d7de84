"""The worker: runs each import handed over by POST /imports (an asynchronous invoke) and
each log the bucket's ObjectCreated trigger announces, through the same code; and each
export and restore POST /exports and POST /restores hand over."""

from typing import Any
from urllib.parse import unquote_plus

from hitcounter.core.errors import AppError, BackendUnavailable
from hitcounter.core.observability import count_metric, logger
from hitcounter.logic import imports, snapshots
from hitcounter.model.keys import import_key
from hitcounter.runtime import services
from hitcounter.web.entry import event_entrypoint


def _import(
    key: str, etag: str | None, context: Any, job_id: str | None = None, fmt: str | None = None
) -> dict[str, Any]:
    s = services()
    counters = None
    if fmt is not None:  # another counter's export (POST /imports with a format): into the pages
        from hitcounter.logic.counter_exports import PREFIX
        from hitcounter.logic.counter_imports import CounterImport

        counters = CounterImport(fmt, s.pages, s.settings.pages.pages_max)
    try:
        import_key(key, PREFIX if counters else s.settings.imports_prefix)
        summary, created = imports.run(
            s.objects,
            s.imports,
            s.settings.scratch_dir,
            s.settings.imports,
            key,
            etag=etag,
            remaining_ms=context.get_remaining_time_in_millis,
            job_id=job_id,
            counters=counters,
        )
    except BackendUnavailable:
        raise  # Redis or S3 away: Lambda retries the event (twice), then it is dropped
    except imports.ImportCrashed as err:
        # The kind of error only: a traceback could quote the log's bytes.
        logger.error("import crashed", extra={"error_code": err.code, "reason": err.message})
        return {"error": err.code}
    except AppError as err:
        logger.warning("import refused", extra={"error_code": err.code, "reason": err.message})
        return {"error": err.code}
    if created:
        count_metric("ImportedHits", summary["counted"])
    return {"id": summary["id"], "counted": summary["counted"] if created else 0}


def _snapshot(job: str, order: dict[str, Any], context: Any) -> dict[str, Any]:
    s = services()
    try:
        if job == snapshots.EXPORT:
            done = snapshots.run_export(
                s.snapshots,
                s.objects,
                s.settings.scratch_dir,
                prefix=s.settings.exports_prefix,
                ident=str(order["id"]),
                limits=s.settings.imports,
                remaining_ms=context.get_remaining_time_in_millis,
            )
        else:
            done = snapshots.run_restore(
                s.snapshots,
                s.objects,
                s.settings.scratch_dir,
                limits=s.settings.imports,
                ident=str(order["id"]),
                key=str(order["key"]),
                etag=str(order["etag"]),
                remaining_ms=context.get_remaining_time_in_millis,
            )
    except BackendUnavailable:
        raise  # Redis or S3 away: Lambda retries the event (twice), then it is queued
    except snapshots.SnapshotCrashed as err:
        logger.error(f"{job} crashed", extra={"error_code": err.code, "reason": err.message})
        return {"error": err.code}
    except AppError as err:
        logger.warning(f"{job} refused", extra={"error_code": err.code, "reason": err.message})
        return {"error": err.code}
    return {"id": done["id"], "records": done["records"]}


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    for job in (snapshots.EXPORT, snapshots.RESTORE):  # from POST /exports or /restores
        if isinstance(event.get(job), dict):
            return {job: _snapshot(job, event[job], context)}
    if isinstance(event.get("import"), dict):  # from POST /imports
        job = event["import"]
        fmt = str(job["format"]) if job.get("format") else None
        return {"imports": [_import(str(job["key"]), str(job["etag"]), context, str(job["id"]), fmt)]}
    results = []
    for record in event.get("Records") or []:  # from the bucket
        obj = record["s3"]["object"]
        results.append(_import(unquote_plus(obj["key"]), obj.get("eTag"), context))
    return {"imports": results}


lambda_handler = event_entrypoint(handle)

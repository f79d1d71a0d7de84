"""S3 access: the only module that talks to S3. botocore errors become typed app errors.

boto3 is imported when the first client is built, never at module import: the hits and
session functions never pay its ~200 ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hitcounter.core.errors import AppError, BackendUnavailable, Forbidden, NotFound

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

CHUNK = 1024 * 1024


class ObjectChanged(AppError):
    status = 409
    code = "object_changed"
    message = "the object changed while it was being imported; try again"


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    etag: str
    size: int


def build_client() -> Any:
    import boto3
    from botocore.config import Config

    # Short timeouts and botocore's standard retries: GETs and HEADs are safe to retry.
    return boto3.client("s3", config=Config(connect_timeout=2, read_timeout=10, retries={"mode": "standard"}))


def map_client_error(exc: ClientError) -> AppError:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in ("404", "NoSuchKey", "NotFound") or status == 404:
        return NotFound("no such object in the imports bucket")
    if code in ("403", "AccessDenied", "AllAccessDisabled") or status == 403:
        return Forbidden()
    if code in ("412", "PreconditionFailed") or status == 412:
        return ObjectChanged()
    return BackendUnavailable("the object store is unavailable, retry shortly", cause="s3_unavailable")


class ObjectStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self.bucket = bucket

    def head(self, key: str) -> ObjectInfo:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            raise map_client_error(exc) from exc
        except BotoCoreError as exc:
            raise BackendUnavailable("the object store is unavailable, retry shortly", cause="s3_unavailable") from exc
        return ObjectInfo(key=key, etag=str(head["ETag"]).strip('"'), size=int(head["ContentLength"]))

    def download(self, info: ObjectInfo, dest: Path) -> None:
        """Stream the object to ``dest`` in chunks; ``IfMatch`` pins the version that was
        sized and named, so a concurrent overwrite cannot slip in."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self._client.get_object(Bucket=self.bucket, Key=info.key, IfMatch=f'"{info.etag}"')["Body"]
            with dest.open("wb") as out:
                for chunk in body.iter_chunks(CHUNK):
                    out.write(chunk)
        except ClientError as exc:
            raise map_client_error(exc) from exc
        except BotoCoreError as exc:
            raise BackendUnavailable("the object store is unavailable, retry shortly", cause="s3_unavailable") from exc

    def upload(self, path: Path, key: str) -> None:
        """Put a local file under ``key`` (boto3 switches to a multipart upload for a large
        one; the bucket's lifecycle aborts one left incomplete)."""
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": "application/gzip"})
        except S3UploadFailedError as exc:  # boto3's transfer wraps the ClientError
            cause = exc.__cause__ if isinstance(exc.__cause__, ClientError) else None
            if cause is not None:
                raise map_client_error(cause) from exc
            raise BackendUnavailable("the object store is unavailable, retry shortly", cause="s3_unavailable") from exc
        except ClientError as exc:
            raise map_client_error(exc) from exc
        except BotoCoreError as exc:
            raise BackendUnavailable("the object store is unavailable, retry shortly", cause="s3_unavailable") from exc
